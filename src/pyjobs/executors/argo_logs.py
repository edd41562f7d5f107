"""Copy a workflow's log from the Argo Server into the run's log file, exactly once.

Argo's log endpoint answers newline-delimited JSON, one `{"result": {"content", "podName"}}`
per line of output, always from the start (Hera 7.1 cannot parse this stream, so httpx reads
it here). The copy keeps a position beside the log — how many entries it has appended and
the log's size then — so a broken stream, or a new server taking the run over, fetches the
log again, skips what is already there and appends only the rest.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from pyjobs.errors import BackendRejectedError, BackendUnavailableError
from pyjobs.executors.argo_client import BACKEND
from pyjobs.executors.argo_token import ArgoToken
from pyjobs.executors.backoff import Backoff
from pyjobs.executors.runlog import RunLog

logger = logging.getLogger(__name__)

POSITION_FILE = "argo-log.json"
_SAVE_EVERY = 0.5  # seconds between position saves while lines stream in


@dataclass
class LogPosition:
    """How much of Argo's log the file holds: `entries` lines, the file then `size` bytes."""

    entries: int = 0
    size: int = 0

    @classmethod
    def resume(cls, log_file: Path) -> LogPosition:
        """The saved position, the log cut back to it (lines after it will come again)."""
        try:
            saved = json.loads((log_file.parent / POSITION_FILE).read_text())
            position = cls(int(saved["entries"]), int(saved["size"]))
        except (OSError, ValueError, KeyError, TypeError):
            position = cls()
        if log_file.exists() and log_file.stat().st_size > position.size:
            os.truncate(log_file, position.size)
        return position

    def save(self, log_file: Path) -> None:
        """Record the position atomically (a crash leaves the old one or the new one)."""
        target = log_file.parent / POSITION_FILE
        temporary = target.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self)))
        os.replace(temporary, target)


def _stream_error(response: httpx.Response) -> BackendRejectedError | BackendUnavailableError:
    response.read()
    try:
        message = str(response.json().get("message") or response.text)
    except ValueError:
        message = response.text
    status = response.status_code
    if status >= 500 or status in (408, 429):
        return BackendUnavailableError(BACKEND, f"log stream: HTTP {status}: {message}")
    return BackendRejectedError(BACKEND, status, message)


class LogCopier:
    """Copies one workflow's main-container log into its run's `RunLog`."""

    def __init__(
        self,
        http: httpx.Client,
        url: str,
        log: RunLog,
        position: LogPosition,
        token: ArgoToken | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.log = log
        self.position = position
        self.token = token or ArgoToken()

    def copy(self, follow: bool) -> None:
        """One pass over Argo's log from its start, appending the entries not yet copied."""
        params = {"logOptions.container": "main"}
        if follow:
            params["logOptions.follow"] = "true"
        seen, saved_at = 0, time.monotonic()
        header = self.token.header()  # read for each pass: the token may have rotated
        headers = {"Authorization": header} if header else {}
        try:
            with self.http.stream("GET", self.url, params=params, headers=headers) as answer:
                if answer.status_code >= 400:
                    raise _stream_error(answer)
                for line in answer.iter_lines():
                    content = self._content(line)
                    if content is None:
                        continue
                    seen += 1
                    if seen <= self.position.entries:
                        continue  # copied by an earlier pass (or an earlier server)
                    self.log.write(content.encode("utf-8") + b"\n")
                    self.position.entries = seen
                    if time.monotonic() - saved_at >= _SAVE_EVERY:
                        self._save()
                        saved_at = time.monotonic()
        except httpx.HTTPError as error:
            raise BackendUnavailableError(BACKEND, f"log stream: {error!r}") from error
        finally:
            self._save()

    def _content(self, line: str) -> str | None:
        if not line.strip():
            return None
        try:
            entry: dict[str, Any] = json.loads(line)
        except ValueError as error:
            raise BackendUnavailableError(
                BACKEND, f"log stream: not JSON: {line[:80]!r}"
            ) from error
        if entry.get("error"):
            message = entry["error"].get("message", entry["error"])
            raise BackendUnavailableError(BACKEND, f"log stream: {message}")
        result = entry.get("result") or {}
        content = result.get("content")
        return content if isinstance(content, str) else None

    def _save(self) -> None:
        try:
            self.position.size = self.log.path.stat().st_size
            self.position.save(self.log.path)
        except OSError as error:  # e.g. the task was deleted meanwhile, its logs with it
            logger.warning("could not save the log position of %s: %s", self.log.path, error)


class LogFollower:
    """Runs a `LogCopier` until the workflow has ended and its whole log is copied."""

    def __init__(
        self, copier: LogCopier, backoff: Backoff, poll: float, drain_seconds: float
    ) -> None:
        self.copier = copier
        self.backoff = backoff
        self.poll = poll
        self.drain_seconds = drain_seconds
        self.ended = threading.Event()  # the workflow has ended: one last pass, then stop
        self.stopping = threading.Event()  # the executor closes: stop now
        self._wake = threading.Event()

    def notify(self) -> None:
        """Look again now (the workflow ended or the executor closes)."""
        self._wake.set()

    def run(self, on_gave_up: Callable[[str], None]) -> None:
        """Copy passes until done; `on_gave_up` hears why the end of the log is missing."""
        try:
            self._passes(on_gave_up)
        except Exception:  # a bug here must not take the run's thread down with it
            logger.exception("copying the log of %s failed", self.copier.url)

    def _passes(self, on_gave_up: Callable[[str], None]) -> None:
        drain_deadline: float | None = None
        while not self.stopping.is_set():
            ended_before = self.ended.is_set()
            if ended_before and drain_deadline is None:
                drain_deadline = time.monotonic() + self.drain_seconds
            try:
                # After the end a follow stream closes by itself; before it, it waits for more.
                self.copier.copy(follow=True)
                self.backoff.reset()
                if ended_before:
                    return
                delay = self.poll
            except BackendRejectedError as error:
                if ended_before:  # e.g. the workflow is gone: there is nothing more to fetch
                    on_gave_up(str(error))
                    return
                delay = self.backoff.next_delay()
            except BackendUnavailableError as error:
                if drain_deadline is not None and time.monotonic() >= drain_deadline:
                    on_gave_up(str(error))
                    return
                delay = self.backoff.next_delay()
            self._wake.wait(delay)
            self._wake.clear()
