"""`GET /api/v1/tasks` with 100,000 tasks stored: first page, a deep page, a filtered page.

The tasks are inserted directly (bulk SQL), not through the API. One client asks for the
same page repeatedly (latency, not throughput); the servers take turns window by window, a
bare FastAPI endpoint answering a fixed page of the same shape among them. The query plans
of the very queries the service builds are printed with the results.
"""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert, text
from tests.support.postgres import fresh_database as fresh_postgres
from tests.support.postgres import postgres_unavailable

from bench.loadgen import LoadConfig, LoadReport
from bench.options import Options
from bench.results import Result, Samples, Target
from bench.servers import (
    ChildServer,
    bare_server,
    load,
    percentile,
    pyjobs_server,
    serving,
)
from bench.timing import progress
from pyjobs.server.db.engine import Database
from pyjobs.server.db.models import Task
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.ids import new_id
from pyjobs.server.queries import tasks_page
from pyjobs.spec import TaskSpec
from pyjobs.status import RunStatus

NAME = "list"
P99_TARGET = Target(factor=0.0, slack_seconds=0.050)
PAGE = 50
# One task in fifty failed: a filtered page reads ~2,500 rows' worth without its index.
FILTER = RunStatus.FAILED


@dataclass(frozen=True)
class Plan:
    """How many tasks, how deep, how long."""

    tasks: int
    deep_pages: int
    rounds: int
    warmup: float
    seconds: float


FULL = Plan(tasks=100_000, deep_pages=100, rounds=3, warmup=0.5, seconds=2.0)
SMOKE = Plan(tasks=2_000, deep_pages=3, rounds=1, warmup=0.1, seconds=0.2)


@dataclass(frozen=True)
class Case:
    """One listing request, measured on every database."""

    label: str
    params: dict[str, str]
    plans: tuple[str, ...]  # which of `query_plans` to show with its result


def run(options: Options) -> list[Result]:
    """Fill each database, then time the pages on each, interleaved with the bare endpoint."""
    plan = SMOKE if options.smoke else FULL
    workspace = options.workspace
    with ExitStack() as stack:
        urls = {"SQLite": f"sqlite:///{workspace.root}/list.db"}
        if postgres_unavailable() is None:
            urls["PostgreSQL"] = stack.enter_context(fresh_postgres())
        plans = {name: fill(url, plan.tasks) for name, url in urls.items()}
        servers = [pyjobs_server(workspace, name, url) for name, url in urls.items()]
        bare = bare_server(workspace)
        stack.enter_context(serving([bare, *servers]))
        cases = _cases(servers[0], plan)
        windows = _interleaved(bare, servers, cases, plan)
    results = []
    for server, name in zip(servers, urls, strict=True):
        for case in cases:
            ours = windows[(server.name, case.label)]
            results.append(
                Result(
                    name=f"GET /api/v1/tasks {case.label}, {plan.tasks:,} tasks, {name}",
                    candidate=Samples(f"{server.name}: p99 per window", _p99s(ours)),
                    baseline=Samples("bare FastAPI fixed page: p99", _p99s(windows[bare.name])),
                    target=P99_TARGET,
                    context=(Samples(f"{server.name}: p50 per window", _p50s(ours)),),
                    notes=(
                        f"one client, {len(ours)} window(s) of {plan.seconds:g} s, "
                        f"{sum(r.requests for r in ours)} requests",
                        *(plans[name][key] for key in case.plans),
                    ),
                )
            )
    return results


def _cases(server: ChildServer, plan: Plan) -> list[Case]:
    """First page, the page `deep_pages` in (reached by following cursors), a filtered page."""
    cursor = None
    with httpx.Client(base_url=server.url, timeout=30) as client:
        seen: list[str] = []
        for _ in range(plan.deep_pages):
            params = {"limit": str(PAGE), **({"cursor": cursor} if cursor else {})}
            page = client.get("/api/v1/tasks", params=params).json()
            seen += [task["id"] for task in page["data"]]
            cursor = page["next_cursor"]
    if seen != sorted(seen, reverse=True) or len(set(seen)) != PAGE * plan.deep_pages:
        raise RuntimeError("following the cursors did not give distinct tasks, newest first")
    assert cursor is not None
    return [
        Case("first page", {"limit": str(PAGE)}, ("first page",)),
        Case(
            f"page {plan.deep_pages + 1} (cursor)",
            {"limit": str(PAGE), "cursor": cursor},
            ("cursor", "owner"),
        ),
        Case(
            f"status={FILTER} first page",
            {"limit": str(PAGE), "status": FILTER.value},
            ("status", "status + cursor"),
        ),
    ]


def _interleaved(
    bare: ChildServer, servers: list[ChildServer], cases: list[Case], plan: Plan
) -> dict[Any, list[LoadReport]]:
    targets: list[tuple[Any, str]] = [(bare.name, f"{bare.url}/tasks")]
    for server in servers:
        for case in cases:
            query = "&".join(f"{key}={value}" for key, value in case.params.items())
            targets.append(((server.name, case.label), f"{server.url}/api/v1/tasks?{query}"))
    pids = {bare.name: bare.pid, **{server.name: server.pid for server in servers}}
    windows: dict[Any, list[LoadReport]] = {key: [] for key, _ in targets}
    for number in range(plan.rounds):
        for key, url in targets:
            name = key if isinstance(key, str) else key[0]
            config = LoadConfig(
                url=url,
                clients=1,
                warmup_seconds=plan.warmup,
                seconds=plan.seconds,
                server_pid=pids[name],
            )
            windows[key].append(load(config))
        progress(f"  {NAME} {number + 1}/{plan.rounds} done")
    return windows


def _p99s(reports: list[LoadReport]) -> tuple[float, ...]:
    return tuple(percentile(r.latencies, 0.99) for r in reports)


def _p50s(reports: list[LoadReport]) -> tuple[float, ...]:
    return tuple(percentile(r.latencies, 0.5) for r in reports)


def fill(url: str, count: int) -> dict[str, str]:
    """Insert `count` tasks (bulk, in id order, as time would); return each case's plan."""
    spec = TaskSpec.parse({"python_code": "print(1)", "dependencies": ["six"]})
    dumped = spec.model_dump(mode="json")
    started = datetime.now(UTC) - timedelta(days=30)
    database = Database(url)
    try:
        upgrade(database)
        progress(f"  {NAME}: inserting {count:,} tasks into {database.dialect}")
        with database.engine.begin() as connection:
            for first in range(0, count, 5_000):
                rows = [
                    {
                        "id": new_id(),
                        "owner_id": None,
                        "spec": dumped,
                        "status": _status(number),
                        "latest_run": 1,
                        "idempotency_key": None,
                        "created_at": started + timedelta(seconds=number),
                    }
                    for number in range(first, min(count, first + 5_000))
                ]
                connection.execute(insert(Task), rows)
            # What autovacuum (PostgreSQL) or a periodic ANALYZE would have done by now.
            connection.execute(text("ANALYZE"))
        return query_plans(database)
    finally:
        database.dispose()


def _status(number: int) -> RunStatus:
    if number % 50 == 7:
        return RunStatus.FAILED
    if number % 100 == 3:
        return RunStatus.CANCELLED
    return RunStatus.SUCCEEDED


def query_plans(database: Database) -> dict[str, str]:
    """The plan of each listing query the service builds (cursor: the 5,001st newest id)."""
    with database.engine.connect() as connection:
        count = connection.scalar(text("SELECT count(*) FROM tasks")) or 0
        deep = text("SELECT id FROM tasks ORDER BY id DESC LIMIT 1 OFFSET :offset")
        middle = connection.scalar(deep, {"offset": min(5_000, count // 2)})
        queries = {
            "first page": tasks_page(
                owner_id=None, every_owner=True, status=None, limit=PAGE + 1, cursor=None
            ),
            "cursor": tasks_page(
                owner_id=None, every_owner=True, status=None, limit=PAGE + 1, cursor=middle
            ),
            "status": tasks_page(
                owner_id=None, every_owner=True, status=FILTER, limit=PAGE + 1, cursor=None
            ),
            "status + cursor": tasks_page(
                owner_id=None, every_owner=True, status=FILTER, limit=PAGE + 1, cursor=middle
            ),
            "owner": tasks_page(
                owner_id="x", every_owner=False, status=None, limit=PAGE + 1, cursor=middle
            ),
        }
        plans = {}
        for label, query in queries.items():
            sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if database.dialect == "sqlite" else "EXPLAIN "
            rows = connection.execute(text(explain + sql)).all()
            steps = [str(row[-1]) for row in rows]
            plans[label] = f"plan ({label}): " + " | ".join(steps)
    return plans
