"""What a benchmark reports: samples of a candidate and its baseline, a target, a verdict."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    """PASS/MISS against a target; INFO for numbers reported as context only."""

    PASS = "PASS"  # noqa: S105 - a verdict, not a password
    MISS = "MISS"
    INFO = "INFO"


@dataclass(frozen=True)
class Samples:
    """Wall times in seconds of repeated runs of one thing, and what that thing was."""

    label: str
    seconds: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.seconds:
            raise ValueError(f"{self.label}: no samples")

    @property
    def median(self) -> float:
        """The median: robust to the odd run a noisy machine slows down."""
        return statistics.median(self.seconds)

    @property
    def minimum(self) -> float:
        """The fastest run."""
        return min(self.seconds)

    @property
    def maximum(self) -> float:
        """The slowest run."""
        return max(self.seconds)


def paired_difference(minuend: Samples, subtrahend: Samples) -> float:
    """Median of the per-round differences of two interleaved sample series.

    Each round's two runs shared the machine's load of that moment, so their difference
    is steadier than the difference of the two medians.
    """
    pairs = zip(minuend.seconds, subtrahend.seconds, strict=True)
    return statistics.median(a - b for a, b in pairs)


@dataclass(frozen=True)
class Target:
    """A limit relative to the baseline: candidate <= factor x baseline + slack.

    A factor of 0 makes it an absolute limit (the baseline is then context).
    """

    factor: float
    slack_seconds: float = 0.0

    def limit(self, baseline: float) -> float:
        """The largest candidate time that passes, given the baseline's time."""
        return self.factor * baseline + self.slack_seconds

    def describe(self) -> str:
        """The target as a reader would write it."""
        if not self.factor:
            return f"<= {self.slack_seconds * 1000:g} ms, whatever the baseline"
        text = f"<= {self.factor:g} x baseline"
        if self.slack_seconds:
            text += f" + {self.slack_seconds * 1000:g} ms"
        return text


@dataclass(frozen=True)
class Result:
    """One comparison: a candidate against a baseline measured in the same run."""

    name: str
    candidate: Samples
    baseline: Samples
    # None: the numbers are context (verdict INFO), not something pyjobs promises.
    target: Target | None = None
    context: tuple[Samples, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ratio(self) -> float:
        """Candidate median over baseline median."""
        return self.candidate.median / self.baseline.median

    @property
    def limit(self) -> float | None:
        """The candidate time the target allows, or None without a target."""
        return None if self.target is None else self.target.limit(self.baseline.median)

    @property
    def verdict(self) -> Verdict:
        """PASS when the candidate's median is within the target; INFO without one."""
        limit = self.limit
        if limit is None:
            return Verdict.INFO
        return Verdict.PASS if self.candidate.median <= limit else Verdict.MISS
