"""Measuring: interleaved candidate/baseline runs, and timed subprocesses."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence

# One measurement: does its own untimed preparation and checking, returns the seconds timed.
Measurement = Callable[[], float]


def round_robin(
    measurements: Sequence[tuple[str, Measurement]], rounds: int, label: str = ""
) -> dict[str, tuple[float, ...]]:
    """Run each measurement once per round, in turn (A B A B … or A B C A B C …).

    Interleaving means a burst of load from the machine's other tenants lands on every
    side alike, instead of on whichever happened to run during it.
    """
    samples: dict[str, list[float]] = {name: [] for name, _ in measurements}
    for number in range(rounds):
        for name, measure in measurements:
            samples[name].append(measure())
        line = ", ".join(f"{name} {times[-1]:.3f} s" for name, times in samples.items())
        progress(f"  {label} {number + 1}/{rounds}: {line}")
    return {name: tuple(times) for name, times in samples.items()}


def timed_run(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | None = None
) -> tuple[float, subprocess.CompletedProcess[bytes]]:
    """Run a program to its end; return the wall time and its result (raising on failure)."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=dict(env), cwd=cwd, capture_output=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        output = (done.stdout + done.stderr).decode(errors="replace")[-2000:]
        raise RuntimeError(f"{argv[0]} exited with status {done.returncode}:\n{output}")
    return seconds, done


def progress(line: str) -> None:
    """A line on stderr, so a long run shows it is alive without cluttering the report."""
    print(line, file=sys.stderr, flush=True)
