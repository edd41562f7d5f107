"""The readable report: one block per result, a verdict first, then the numbers behind it."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable

from bench.options import Options
from bench.results import Result, Samples, Verdict
from bench.suite import Outcome

_WIDTH = 11


def header(options: Options) -> str:
    """What the numbers were measured on: the machine, its load and the tools' versions."""
    workspace = options.workspace
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    lines = [
        f"pyjobs benchmarks — {time.strftime('%Y-%m-%d %H:%M:%S')}"
        f"{' (SMOKE: one round, tiny packages; not a measurement)' if options.smoke else ''}",
        f"machine: {os.cpu_count()} CPUs, Linux {platform.release()}, load at start {load}",
        f"tools: bench Python {platform.python_version()}, envs on {workspace.python} "
        f"{_version([str(workspace.python), '--version'])}, "
        f"{_version([str(workspace.uv), '--version'])}, {_version(['bwrap', '--version'])}",
        f"sandbox: {workspace.sandbox.note}",
        "Numbers are medians (n = rounds) of interleaved runs: candidate, baseline, "
        "candidate, … in one process, on this machine, now.",
    ]
    return "\n".join(lines)


def _version(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return f"{argv[0]} (missing)"
    return (done.stdout or done.stderr).strip() or argv[0]


def _unit(seconds: float) -> tuple[float, str, int]:
    """Milliseconds for what takes under a tenth of a second (API requests), else seconds."""
    return (1000.0, "ms", 2) if seconds < 0.1 else (1.0, "s", 3)


def _samples_line(role: str, samples: Samples) -> str:
    scale, unit, digits = _unit(samples.median)
    low, high = samples.minimum * scale, samples.maximum * scale
    spread = f"n={len(samples.seconds)}, {low:.{digits}f} to {high:.{digits}f}"
    value = f"{samples.median * scale:8.{digits}f} {unit:<2}"
    return f"  {role:<{_WIDTH}}{value} {samples.label}  ({spread})"


def format_result(result: Result) -> str:
    """One result as a block of lines."""
    lines = [
        f"[{result.verdict}] {result.name}",
        _samples_line("candidate", result.candidate),
        _samples_line("baseline", result.baseline),
    ]
    ratio = f"  {'ratio':<{_WIDTH}}{result.ratio:8.2f} x"
    limit = result.limit
    if result.target is not None and limit is not None:
        scale, unit, digits = _unit(limit)
        ratio += f"  target {result.target.describe()}, i.e. <= {limit * scale:.{digits}f} {unit}"
    else:
        ratio += "  no target: context"
    lines.append(ratio)
    lines += [_samples_line("context", samples) for samples in result.context]
    lines += [f"  {'note':<{_WIDTH}}{note}" for note in result.notes]
    return "\n".join(lines)


def format_outcomes(outcomes: Iterable[Outcome]) -> str:
    """Every benchmark's results (or its crash), then a one-line summary."""
    blocks: list[str] = []
    verdicts: Counter[str] = Counter()
    for outcome in outcomes:
        blocks.append(f"== {outcome.name} ==")
        if outcome.error is not None:
            blocks.append(f"[CRASH] {outcome.name}\n{outcome.error}")
            verdicts["CRASH"] += 1
        for result in outcome.results:
            blocks.append(format_result(result))
            verdicts[result.verdict] += 1
    order = [Verdict.PASS, Verdict.MISS, Verdict.INFO, "CRASH"]
    summary = ", ".join(f"{verdicts[name]} {name}" for name in order if verdicts[name])
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    blocks.append(f"summary: {summary or 'nothing ran'} (load at end {load})")
    return "\n\n".join(blocks)


def show(text: str) -> None:
    """Print the report to stdout."""
    print(text, flush=True)
    sys.stdout.flush()
