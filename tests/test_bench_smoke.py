"""The benchmarks run end to end (one round, tiny packages); their numbers are not judged here."""

from __future__ import annotations

import math

import bench.__main__ as bench_main
import pytest
from bench import listing, submit, suite
from bench.options import Options
from bench.report import format_outcomes
from bench.results import Result, Samples, Target, Verdict, paired_difference
from bench.suite import BENCHMARKS, Benchmark, Outcome
from bench.workspace import Workspace

from tests.executors.conftest import require_bwrap
from tests.support.postgres import postgres_unavailable

# The API benchmarks install nothing: they have a smoke test of their own below.
API_BENCHMARKS: tuple[Benchmark, ...] = (submit, listing)
RUN_BENCHMARKS = tuple(b for b in BENCHMARKS if b not in API_BENCHMARKS)


@pytest.mark.network
@pytest.mark.parametrize("benchmark", RUN_BENCHMARKS, ids=lambda benchmark: benchmark.NAME)
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


def _databases() -> list[str]:
    return ["SQLite"] + (["PostgreSQL"] if postgres_unavailable() is None else [])


def test_submit_benchmark_smoke() -> None:
    with Workspace() as workspace:
        results = submit.run(Options(workspace, smoke=True))
        root = workspace.root
    assert not root.exists()
    names = [result.name for result in results]
    assert len(names) == 2 * len(_databases())
    for database in _databases():
        assert any("throughput" in name and database in name for name in names)
        assert any("p99" in name and database in name for name in names)
    for result in results:
        assert result.target is not None
        assert result.verdict in {Verdict.PASS, Verdict.MISS}
        assert result.baseline.label.startswith("bare FastAPI")
    throughput = results[0]
    assert any(note.startswith("pyjobs: server CPU") for note in throughput.notes)
    assert any("load generator" in note for note in throughput.notes)
    report = format_outcomes([Outcome(submit.NAME, tuple(results))])
    assert "rate: pyjobs" in report
    assert "target <= 50 ms" in report


def test_list_benchmark_smoke() -> None:
    with Workspace() as workspace:
        results = listing.run(Options(workspace, smoke=True))
    assert len(results) == 3 * len(_databases())
    plans = [note for result in results for note in result.notes if note.startswith("plan (")]
    assert len(plans) == 5 * len(_databases())  # five queries explained on each database
    for result in results:
        assert result.target is not None
        assert result.verdict in {Verdict.PASS, Verdict.MISS}
        assert all(math.isfinite(value) for value in result.candidate.seconds)


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
    absolute = Target(factor=0, slack_seconds=0.05)
    assert absolute.limit(123.0) == pytest.approx(0.05)
    assert absolute.describe() == "<= 50 ms, whatever the baseline"


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
