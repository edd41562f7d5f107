"""Task and run ids: 26 characters of Crockford base32 that sort in creation order."""

from __future__ import annotations

import itertools
import time

from pyjobs.server.ids import new_id

CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"


def _value(identifier: str) -> int:
    value = 0
    for character in identifier:
        value = value * 32 + CROCKFORD.index(character)
    return value


def test_ids_are_crockford_base32_of_the_time_in_milliseconds_then_randomness() -> None:
    before = time.time_ns() // 1_000_000
    identifier = new_id()
    after = time.time_ns() // 1_000_000
    assert len(identifier) == 26
    assert set(identifier) <= set(CROCKFORD)
    value = _value(identifier)
    assert value < 2**128  # the two leading bits of 130 are zero
    assert before <= value >> 80 <= after


def test_ids_made_in_a_row_are_unique_and_sort_as_they_were_made() -> None:
    identifiers = [new_id() for _ in range(20_000)]  # many share a millisecond
    assert len(set(identifiers)) == len(identifiers)
    assert identifiers == sorted(identifiers)
    values = [_value(identifier) for identifier in identifiers]
    assert all(b > a for a, b in itertools.pairwise(values))
