"""The benchmarks run end to end (one round, tiny packages); their numbers are not judged here."""

from __future__ import annotations

import math

import bench.__main__ as bench_main
import pytest
from bench import suite
from bench.options import Options
from bench.report import format_outcomes
from bench.results import Result, Samples, Target, Verdict, paired_difference
from bench.suite import BENCHMARKS, Benchmark, Outcome
from bench.workspace import Workspace

from tests.executors.conftest import require_bwrap


@pytest.mark.network
@pytest.mark.parametrize("benchmark", BENCHMARKS, ids=lambda benchmark: benchmark.NAME)
def test_each_benchmark_runs_in_smoke_mode(benchmark: Benchmark) -> None:
    require_bwrap()
    with Workspace() as workspace:
        results = benchmark.run(Options(workspace, smoke=True))
        root = workspace.root
    assert not root.exists()  # everything the benchmark made is gone
    assert results
    for result in results:
        for samples in (result.candidate, result.baseline, *result.context):
            assert samples.seconds
            assert all(math.isfinite(value) and value >= 0 for value in samples.seconds)
        assert math.isfinite(result.ratio)
        assert result.ratio > 0
        expected = {Verdict.PASS, Verdict.MISS} if result.target else {Verdict.INFO}
        assert result.verdict in expected
    assert any(result.target is not None for result in results)  # each has a real target
    report = format_outcomes([Outcome(benchmark.NAME, tuple(results))])
    assert f"== {benchmark.NAME} ==" in report
    assert "ratio" in report


def test_the_verdict_compares_the_median_with_the_target() -> None:
    baseline = Samples("base", (1.0, 1.0, 9.0))
    target = Target(factor=1.3, slack_seconds=0.1)
    passing = Result("r", Samples("c", (1.4, 1.3, 5.0)), baseline, target)
    missing = Result("r", Samples("c", (1.5, 1.5, 0.1)), baseline, target)
    context = Result("r", Samples("c", (1.5,)), baseline)
    assert passing.limit == pytest.approx(1.4)
    assert (passing.verdict, missing.verdict, context.verdict) == (
        Verdict.PASS,
        Verdict.MISS,
        Verdict.INFO,
    )
    assert missing.ratio == pytest.approx(1.5)
    assert target.describe() == "<= 1.3 x baseline + 100 ms"


def test_paired_difference_takes_the_median_of_each_rounds_difference() -> None:
    ours = Samples("a", (1.0, 5.0, 2.0))
    theirs = Samples("b", (0.5, 4.0, 1.9))
    assert paired_difference(ours, theirs) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="zip"):
        paired_difference(ours, Samples("c", (1.0,)))


class _Crashing:
    NAME = "crashing"

    def run(self, options: Options) -> list[Result]:
        raise RuntimeError("boom")


class _Missing:
    NAME = "missing"

    def run(self, options: Options) -> list[Result]:
        slow = Samples("c", (2.0,))
        return [Result("slow", slow, Samples("b", (1.0,)), Target(factor=1.5))]


def test_a_miss_exits_zero_and_a_crash_exits_one(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(suite, "BENCHMARKS", (_Missing(),))
    assert bench_main.main([]) == 0
    assert "[MISS] slow" in capsys.readouterr().out
    monkeypatch.setattr(suite, "BENCHMARKS", (_Missing(), _Crashing()))
    assert bench_main.main([]) == 1
    out = capsys.readouterr().out
    assert "[MISS] slow" in out  # the crash does not hide the other results
    assert "[CRASH] crashing" in out
    assert "RuntimeError: boom" in out
