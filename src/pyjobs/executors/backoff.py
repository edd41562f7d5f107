"""Exponential backoff with jitter, for retrying a backend that is away."""

from __future__ import annotations

import random


class Backoff:
    """Delays that double from `initial` up to `maximum`; `reset` after a success."""

    def __init__(self, initial: float, maximum: float, jitter: float = 0.1) -> None:
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.jitter = jitter
        self.failures = 0

    def next_delay(self) -> float:
        """The wait before the next attempt, counting one more failure."""
        delay = min(self.maximum, self.initial * 2.0**self.failures)
        self.failures += 1
        # A little jitter, so many runs waiting on the same outage do not retry in step.
        spread = delay * self.jitter
        return max(0.0, delay + random.uniform(-spread, spread))  # noqa: S311 - not crypto

    def reset(self) -> None:
        """The backend answered: start again from `initial`."""
        self.failures = 0
