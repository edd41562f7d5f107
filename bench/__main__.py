"""`python -m bench`: run the benchmarks and print the report.

Exit status 0 whatever the verdicts (the report is the product: a MISS is information),
1 when a benchmark crashed.
"""

from __future__ import annotations

import argparse
import time

from bench import suite
from bench.options import Options
from bench.report import format_outcomes, header, show
from bench.workspace import Workspace


def main(argv: list[str] | None = None) -> int:
    """Parse the flags, run the benchmarks in a temporary workspace, print the report."""
    names = [benchmark.NAME for benchmark in suite.BENCHMARKS]
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="one round, tiny packages")
    parser.add_argument("--only", action="append", choices=names, help="run just this one")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with Workspace() as workspace:
        options = Options(workspace, smoke=args.smoke)
        show(header(options))
        outcomes = suite.run_all(options, frozenset(args.only or ()))
    show(format_outcomes(outcomes))
    show(f"took {time.monotonic() - started:.0f} s")
    return 1 if any(outcome.error is not None for outcome in outcomes) else 0


if __name__ == "__main__":
    raise SystemExit(main())
