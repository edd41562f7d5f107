"""One workflow inside the Argo stand-in: its timeline, status and log, as real Argo shows them.

What the workflow's pod "does" comes from a directive in the task's own code, a comment
line `# fake-argo: {"logs": [[0, "hello"]], "seconds": 1, "exit": 0, "oom": false}`,
read back from the script's base64 (the same code really does that on a real cluster).
The timeline: created with an empty status; after `pending` seconds Argo has it Running
with a Pending pod node; after `start` more the pod runs, prints its lines at their times
and ends after `seconds` — unless the workflow deadline, a stop or a terminate comes first.
Messages are Argo's own: "main: Error (exit code 3)", "main: OOMKilled (exit code 137)",
"Step exceeded its deadline", "Stopped with strategy 'Stop'".
"""

from __future__ import annotations

import base64
import copy
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_CODE = re.compile(r"write_code\(\) \{\n  base64 -d <<'PYJOBS_DATA'\n(.*?)PYJOBS_DATA", re.DOTALL)
_DIRECTIVE = re.compile(r"^# fake-argo: (\{.*\})\s*$", re.MULTILINE)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Behaviour:
    """What the workflow's pod does once it runs."""

    logs: tuple[tuple[float, str], ...] = ()
    seconds: float = 0.3
    exit: int = 0
    oom: bool = False

    @classmethod
    def of(cls, manifest: dict[str, Any]) -> Behaviour:
        """The directive in the task's code, or a quick silent success."""
        try:
            source = manifest["spec"]["templates"][0]["script"]["source"]
            code = base64.b64decode(_CODE.search(source).group(1)).decode()  # type: ignore[union-attr]
            found = _DIRECTIVE.search(code)
        except (KeyError, IndexError, AttributeError, ValueError):
            return cls()
        if found is None:
            return cls()
        directive = json.loads(found.group(1))
        lines = directive.get("logs", [])
        logs = tuple((float(t), str(text)) for t, text in lines)
        last = max((t for t, _ in logs), default=0.0)
        return cls(
            logs=logs,
            seconds=float(directive.get("seconds", last + 0.3)),
            exit=int(directive.get("exit", 0)),
            oom=bool(directive.get("oom", False)),
        )


@dataclass
class Timing:
    """How long the stand-in's workflows take to get going and to stop."""

    pending: float = 0.2
    start: float = 0.2
    stop: float = 0.2


@dataclass
class FakeWorkflow:
    """A workflow the stand-in keeps: the manifest as received plus its simulated life."""

    manifest: dict[str, Any]
    behaviour: Behaviour
    timing: Timing
    created: float
    shutdown: str | None = None
    shutdown_at: float | None = None
    ignore_stop: bool = False
    uid: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def name(self) -> str:
        """The name the stand-in gave it."""
        return str(self.manifest["metadata"]["name"])

    def _end(self) -> tuple[float, str]:
        """When the pod ends and why: done, deadline, stop or terminate."""
        run_start = self.created + self.timing.pending + self.timing.start
        ends = [(run_start + self.behaviour.seconds, "done")]
        deadline = self.manifest["spec"].get("activeDeadlineSeconds")
        if deadline is not None:
            ends.append((self.created + self.timing.pending + float(deadline), "deadline"))
        if self.shutdown_at is not None and not (self.shutdown == "Stop" and self.ignore_stop):
            ends.append((self.shutdown_at + self.timing.stop, self.shutdown or "Stop"))
        return min(ends)

    def finished(self, now: float) -> bool:
        """Whether the workflow has completed at `now`."""
        return now >= self._end()[0]

    def log_lines(self, now: float) -> list[str]:
        """The lines the pod has printed by `now`."""
        run_start = self.created + self.timing.pending + self.timing.start
        until = min(now, self._end()[0])
        return [text for t, text in self.behaviour.logs if run_start + t <= until]

    def snapshot(self, now: float) -> dict[str, Any]:
        """The workflow as the Argo Server would return it at `now`."""
        workflow = copy.deepcopy(self.manifest)
        if self.shutdown:
            workflow["spec"]["shutdown"] = self.shutdown
        started = self.created + self.timing.pending
        run_start = started + self.timing.start
        if now < started:
            workflow["status"] = {}
            return workflow
        end, why = self._end()
        node: dict[str, Any] = {
            "id": self.name,
            "name": self.name,
            "displayName": self.name,
            "type": "Pod",
            "templateName": "main",
            "startedAt": _when(started),
            "progress": "0/1",
        }
        status: dict[str, Any] = {"phase": "Running", "startedAt": _when(started), "nodes": {}}
        if now < min(run_start, end):
            node |= {"phase": "Pending", "message": "PodInitializing"}
        elif now < end:
            node |= {"phase": "Running", "hostNodeName": "fake-node"}
        else:
            phase, message, exit_code = self._outcome(why)
            node |= {"phase": phase, "finishedAt": _when(end), "progress": "1/1"}
            if message:
                node["message"] = message
            if exit_code is not None:
                node["outputs"] = {"exitCode": str(exit_code)}
            status |= {"phase": phase, "finishedAt": _when(end), "progress": node["progress"]}
            if why in ("Stop", "Terminate"):
                status["message"] = f"Stopped with strategy '{why}'"
            elif message:
                status["message"] = message
        status["nodes"][self.name] = node
        workflow["status"] = status
        return workflow

    def _outcome(self, why: str) -> tuple[str, str, int | None]:
        if why == "deadline":
            return "Failed", "Step exceeded its deadline", None
        if why in ("Stop", "Terminate"):
            return "Failed", f"workflow shutdown with strategy:  {why}", 143
        if self.behaviour.oom:
            return "Failed", "main: OOMKilled (exit code 137)", 137
        if self.behaviour.exit != 0:
            return "Failed", f"main: Error (exit code {self.behaviour.exit})", self.behaviour.exit
        return "Succeeded", "", 0
