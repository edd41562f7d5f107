"""Identifiers that sort by creation time (ULID layout), so keyset pages need no timestamp."""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32, lower case
# Every pair of characters, indexed by 10 bits: 13 lookups spell the 130 bits of an id
# (two leading zero bits, then 128), at a third of the cost of 26 single ones.
_PAIRS = [high + low for high in _ALPHABET for low in _ALPHABET]
_lock = threading.Lock()
_last = (0, 0)


def new_id() -> str:
    """A 26-character id: 48 bits of milliseconds, then 80 bits that grow within one ms."""
    global _last  # noqa: PLW0603 - monotonic ids need the previous one
    with _lock:
        millis = time.time_ns() // 1_000_000
        last_millis, last_random = _last
        if millis <= last_millis:
            # Same (or a clock-skewed earlier) millisecond: keep strictly increasing.
            millis, randomness = last_millis, last_random + 1
        else:
            randomness = int.from_bytes(os.urandom(10), "big") >> 1  # room to increment
        _last = (millis, randomness)
    value = (millis << 80) | randomness
    return "".join([_PAIRS[(value >> shift) & 1023] for shift in range(120, -1, -10)])
