"""The benchmarks `make bench` runs, and how a new one joins them."""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Protocol

from bench import listing, local_cold, local_warm, submit
from bench.options import Options
from bench.results import Result
from bench.timing import progress


class Benchmark(Protocol):
    """A benchmark module: a `NAME` and a `run` that measures and returns its results."""

    NAME: str

    def run(self, options: Options) -> list[Result]:
        """Measure candidate and baseline, interleaved, and return the comparisons."""
        ...


# A new benchmark is a module with NAME and run(), added here.
BENCHMARKS: tuple[Benchmark, ...] = (local_warm, local_cold, submit, listing)


@dataclass(frozen=True)
class Outcome:
    """What one benchmark gave: its results, or the error that stopped it."""

    name: str
    results: tuple[Result, ...] = ()
    error: str | None = None


def run_all(options: Options, only: frozenset[str] = frozenset()) -> list[Outcome]:
    """Run every benchmark (or those named in `only`); one that crashes does not stop the rest."""
    outcomes = []
    for benchmark in BENCHMARKS:
        if only and benchmark.NAME not in only:
            continue
        progress(f"running {benchmark.NAME}{' (smoke)' if options.smoke else ''}")
        try:
            outcomes.append(Outcome(benchmark.NAME, tuple(benchmark.run(options))))
        except Exception:  # reported with the others; `make bench` then exits non-zero
            outcomes.append(Outcome(benchmark.NAME, error=traceback.format_exc()))
    return outcomes
