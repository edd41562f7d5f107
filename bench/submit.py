"""`POST /api/v1/tasks/submit` under 16 concurrent clients: pyjobs against a bare endpoint.

Four servers run side by side, each a child process served by uvicorn as `pyjobs serve`
serves: a bare FastAPI endpoint that parses the JSON body and answers an id (the floor of
this HTTP stack on this machine), the same with the body validated as a `TaskSpec` and
nothing stored (context: validation's share), and `pyjobs serve` on SQLite and on a fresh
PostgreSQL database. Each round gives each server one window of load, in turn. Dispatching is off
(`PYJOBS_DISPATCH=false`): the runs are stored as they would be, but none starts, since a
sandboxed run would compete for the same two cores and is not what this measures. Nor is
the workflow's build (≈0.3 ms a run): the dispatcher does it as it hands a run over, at
the pace runs start, not the pace they are submitted.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
from tests.support.postgres import fresh_database as fresh_postgres
from tests.support.postgres import postgres_unavailable

from bench.loadgen import LoadConfig, LoadReport
from bench.options import Options
from bench.results import Result, Samples, Target
from bench.servers import (
    ChildServer,
    bare_server,
    load,
    median,
    percentile,
    pyjobs_server,
    serving,
)
from bench.timing import progress

NAME = "submit"
# Rate >= 0.5 x the bare endpoint's, i.e. time per submission <= 2 x its time.
RATE_TARGET = Target(factor=2.0)
P99_TARGET = Target(factor=0.0, slack_seconds=0.050)
BODY = json.dumps({"python_code": "print(1)", "dependencies": ["six"]})
SUBMIT_PATH = "/api/v1/tasks/submit"
VALIDATING = "FastAPI + TaskSpec"


@dataclass(frozen=True)
class Plan:
    """How much load, for how long."""

    clients: int
    rounds: int
    first_warmup: float
    warmup: float
    seconds: float


FULL = Plan(clients=16, rounds=3, first_warmup=2.0, warmup=1.0, seconds=4.0)
SMOKE = Plan(clients=4, rounds=1, first_warmup=0.2, warmup=0.1, seconds=0.3)


def run(options: Options) -> list[Result]:
    """Measure every server in interleaved windows; compare each pyjobs with the bare one."""
    plan = SMOKE if options.smoke else FULL
    workspace = options.workspace
    with ExitStack() as stack:
        candidates = [pyjobs_server(workspace, "SQLite", f"sqlite:///{workspace.root}/submit.db")]
        unavailable = postgres_unavailable()
        if unavailable is None:
            url = stack.enter_context(fresh_postgres())
            candidates.append(pyjobs_server(workspace, "PostgreSQL", url))
        bare = bare_server(workspace)
        validating = bare_server(workspace, VALIDATING)
        stack.enter_context(serving([bare, validating, *candidates]))
        for server in candidates:
            _check_submit(server)
        windows = _interleaved([bare, validating, *candidates], plan)
        results = []
        for server in candidates:
            results += _compare(
                server, windows[server.name], windows[bare.name], windows[VALIDATING], plan
            )
            _check_stored(server)
    if unavailable is not None:
        results[0] = _with_note(results[0], f"no PostgreSQL results: {unavailable}")
    return results


def _path(server: ChildServer) -> str:
    if server.name == VALIDATING:
        return "/submit-validated"
    return SUBMIT_PATH if server.name.startswith("pyjobs") else "/submit"


def _interleaved(servers: list[ChildServer], plan: Plan) -> dict[str, list[LoadReport]]:
    windows: dict[str, list[LoadReport]] = {server.name: [] for server in servers}
    for number in range(plan.rounds):
        for server in servers:
            config = LoadConfig(
                url=server.url + _path(server),
                method="POST",
                body=BODY,
                expect=201,
                clients=plan.clients,
                warmup_seconds=plan.first_warmup if number == 0 else plan.warmup,
                seconds=plan.seconds,
                server_pid=server.pid,
            )
            report = load(config)
            windows[server.name].append(report)
            progress(
                f"  {NAME} {number + 1}/{plan.rounds}: {server.name}: "
                f"{report.requests / report.window_seconds:.0f}/s, "
                f"p99 {percentile(report.latencies, 0.99) * 1000:.1f} ms"
            )
    return windows


def _per_request(reports: list[LoadReport]) -> tuple[float, ...]:
    """Seconds per submission of each window (the inverse of its rate)."""
    return tuple(r.window_seconds / r.requests for r in reports)


def _p99s(reports: list[LoadReport]) -> tuple[float, ...]:
    return tuple(percentile(r.latencies, 0.99) for r in reports)


def _p50s(reports: list[LoadReport]) -> tuple[float, ...]:
    return tuple(percentile(r.latencies, 0.5) for r in reports)


def cpu_note(name: str, reports: list[LoadReport]) -> str:
    """CPU per request of the server and of the load generator, over the measured windows."""
    requests = sum(r.requests for r in reports)
    server = sum(r.server_cpu_seconds or 0.0 for r in reports)
    client = sum(r.client_cpu_seconds for r in reports)
    seconds = sum(r.window_seconds for r in reports)
    return (
        f"{name}: server CPU {server / requests * 1e6:.0f} µs/request "
        f"({server / seconds:.2f} cores), load generator {client / requests * 1e6:.0f} µs/request "
        f"({client / seconds:.2f} cores)"
    )


def _compare(
    server: ChildServer,
    ours: list[LoadReport],
    bare: list[LoadReport],
    validated: list[LoadReport],
    plan: Plan,
) -> list[Result]:
    rates = [
        median([r.requests / r.window_seconds for r in reports])
        for reports in (ours, bare, validated)
    ]
    load_note = (
        f"{plan.clients} keep-alive clients in a separate process, {plan.rounds} window(s) of "
        f"{plan.seconds:g} s each after a warm-up, interleaved with the other servers"
    )
    throughput = Result(
        name=f"submit throughput, {server.name}: seconds per submission (1 / rate)",
        candidate=Samples(f"{server.name}: {SUBMIT_PATH}", _per_request(ours)),
        baseline=Samples("bare FastAPI POST /submit", _per_request(bare)),
        target=RATE_TARGET,
        context=(
            Samples(f"{VALIDATING}: validation only, nothing stored", _per_request(validated)),
        ),
        notes=(
            f"rate: pyjobs {rates[0]:.0f}/s, bare {rates[1]:.0f}/s = "
            f"{rates[0] / rates[1]:.2f} x (target >= 0.5 x); "
            f"validation only {rates[2]:.0f}/s = {rates[2] / rates[1]:.2f} x",
            cpu_note("pyjobs", ours),
            cpu_note("bare", bare),
            cpu_note("validation only", validated),
            load_note,
        ),
    )
    pooled = [latency for report in ours for latency in report.latencies]
    latency = Result(
        name=f"submit p99 latency at {plan.clients} clients, {server.name}",
        candidate=Samples(f"{server.name}: p99 per window", _p99s(ours)),
        baseline=Samples("bare FastAPI: p99 per window", _p99s(bare)),
        target=P99_TARGET,
        context=(
            Samples(f"{server.name}: p50 per window", _p50s(ours)),
            Samples("bare FastAPI: p50 per window", _p50s(bare)),
        ),
        notes=(
            f"all windows pooled: p50 {percentile(pooled, 0.5) * 1000:.1f} ms, "
            f"p99 {percentile(pooled, 0.99) * 1000:.1f} ms, "
            f"max {max(pooled) * 1000:.1f} ms over {len(pooled)} submissions",
        ),
    )
    return [throughput, latency]


def _check_submit(server: ChildServer) -> None:
    """One submission answered as the API promises, before any timing."""
    answer = httpx.post(server.url + SUBMIT_PATH, json=json.loads(BODY), timeout=30).json()
    if answer.get("status") != "pending" or not answer.get("workflow_id", "").startswith(
        "python-job-"
    ):
        raise RuntimeError(f"{server.name}: unexpected submit answer {answer}")


def _check_stored(server: ChildServer) -> None:
    """The submissions are stored and none was started (dispatching was off)."""
    listing = httpx.get(server.url + "/api/v1/tasks", params={"limit": 5}, timeout=30).json()
    statuses = {task["status"] for task in listing["data"]}
    if statuses != {"pending"}:
        raise RuntimeError(f"{server.name}: runs were started or lost: {statuses}")


def _with_note(result: Result, note: str) -> Result:
    return Result(
        result.name,
        result.candidate,
        result.baseline,
        result.target,
        result.context,
        (*result.notes, note),
    )
