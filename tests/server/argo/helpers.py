"""Jobs whose code does on a real cluster what its `# fake-argo:` directive tells the stand-in."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx


def job(
    logs: tuple[tuple[float, str], ...] = (),
    *,
    seconds: float | None = None,
    exit_code: int = 0,
    oom: bool = False,
) -> str:
    """Python code that prints `logs` at their times, runs `seconds`, exits `exit_code`."""
    directive: dict[str, Any] = {"logs": [list(item) for item in logs], "exit": exit_code}
    if seconds is not None:
        directive["seconds"] = seconds
    if oom:
        directive["oom"] = True
    lines = [f"# fake-argo: {json.dumps(directive)}", "import sys, time", "start = time.time()"]
    for at, text in logs:
        lines.append(f"time.sleep(max(0.0, {at} - (time.time() - start)))")
        lines.append(f"print({text!r}, flush=True)")
    if oom:
        lines.append("hog = [bytearray(64 * 1024 * 1024) for _ in range(64)]")
    if seconds is not None:
        lines.append(f"time.sleep(max(0.0, {seconds} - (time.time() - start)))")
    lines.append(f"sys.exit({exit_code})")
    return "\n".join(lines) + "\n"


def submit(api: httpx.Client, body: dict[str, Any]) -> str:
    """Submit a task; its id."""
    answer = api.post("/tasks/submit", json=body)
    assert answer.status_code == 201, answer.text
    task_id: str = answer.json()["id"]
    return task_id


def latest_run(api: httpx.Client, task_id: str) -> dict[str, Any]:
    """The task's latest run as the API shows it."""
    runs: list[dict[str, Any]] = api.get(f"/tasks/{task_id}").json()["runs"]
    return runs[-1]


def wait_run(api: httpx.Client, task_id: str, until: Any, timeout: float) -> dict[str, Any]:
    """Poll the latest run until `until(run)` holds; the run then."""
    deadline = time.monotonic() + timeout
    while True:
        run = latest_run(api, task_id)
        if until(run):
            return run
        assert time.monotonic() < deadline, f"condition never came true; run: {run}"
        time.sleep(0.05)


def wait_final(api: httpx.Client, task_id: str, timeout: float) -> dict[str, Any]:
    """The run once it has ended."""
    final = ("succeeded", "failed", "cancelled")
    return wait_run(api, task_id, lambda run: run["status"] in final, timeout)
