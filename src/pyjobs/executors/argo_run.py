"""One run on Argo: create its workflow, follow its phase and log, stop it when asked.

Everything a run does with the Argo Server happens in the run's own thread, so calls never
overlap and the state changes in order; `cancel` and `close` only set flags and wake it.
While the server is unreachable the run keeps its status, says why in its message and
retries with exponential backoff; nothing is given up because Argo is away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

from pyjobs.errors import BackendRejectedError, BackendUnavailableError
from pyjobs.executors.argo_client import ArgoClient
from pyjobs.executors.argo_config import ArgoConfig
from pyjobs.executors.argo_logs import LogCopier, LogFollower, LogPosition
from pyjobs.executors.argo_phases import Observation, observe
from pyjobs.executors.backoff import Backoff
from pyjobs.executors.base import RunRequest, RunState
from pyjobs.executors.runlog import RunLog, log_path
from pyjobs.status import FailureReason, RunStatus

logger = logging.getLogger(__name__)

# The labels that identify a run's workflow, to find one whose creation answer was lost.
RUN_LABELS = ("pyjobs/task-id", "pyjobs/run-number")


class ArgoRun:
    """A run's state, log and worker thread."""

    def __init__(
        self,
        request: RunRequest,
        config: ArgoConfig,
        client: ArgoClient,
        http: httpx.Client,
        report: Callable[[RunState], None],
    ) -> None:
        self.request = request
        self.config = config
        self.client = client
        self.http = http
        self.report = report
        metadata: dict[str, Any] = dict(request.manifest.get("metadata") or {})
        self.namespace = str(metadata.get("namespace") or "argo")
        labels = metadata.get("labels") or {}
        self.labels = {k: str(labels[k]) for k in RUN_LABELS if k in labels}
        self.state = RunState(request.run_id, request.workflow_name or "")
        log_file = log_path(config.home, request.run_id)
        position = LogPosition.resume(log_file)
        self.log = RunLog(log_file, config.output_limit, written=position.size)
        self.position = position
        self.cancel_requested = threading.Event()
        self.closing = threading.Event()
        self.ended = threading.Event()
        self._wake = threading.Event()
        self._follower: LogFollower | None = None
        self._follower_thread: threading.Thread | None = None
        self._stop_sent_at: float | None = None
        self._terminated = False
        self.thread = threading.Thread(
            target=self._work, name=f"pyjobs-argo-{request.run_id}", daemon=True
        )

    # -- asked from other threads ----------------------------------------------------

    def cancel(self) -> None:
        """Ask for the run to stop; the worker sends Argo the stop (then the terminate)."""
        self.cancel_requested.set()
        self._wake.set()

    def close(self) -> None:
        """Stop following (the workflow itself goes on, for the next server to re-attach)."""
        self.closing.set()
        self._wake.set()
        if self._follower is not None:
            self._follower.stopping.set()
            self._follower.notify()

    # -- the worker ------------------------------------------------------------------

    def _work(self) -> None:
        try:
            if not self.state.workflow_name and not self._create():
                return
            self._start_log_follower()
            self._watch()
        except Exception as error:  # an executor bug must still end the run
            logger.exception("run %s failed inside the Argo executor", self.request.run_id)
            self._finish(
                Observation(RunStatus.FAILED, FailureReason.BACKEND_ERROR, f"executor: {error}")
            )

    def _update(self, **changes: Any) -> None:
        new = self.state.moved(**changes)
        if new != self.state:
            self.state = new
            self.report(new)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _create(self) -> bool:
        """Create the workflow, retrying while Argo is away; False if the run ended instead."""
        backoff = Backoff(self.config.poll_seconds, self.config.retry_max_seconds)
        maybe_created = False
        while not self.closing.is_set():
            if self.cancel_requested.is_set():
                self._finish(
                    Observation(
                        RunStatus.CANCELLED, FailureReason.CANCELLED, "cancelled before it started"
                    )
                )
                return False
            try:
                name = self._find_earlier() if maybe_created else None
                if name is None:
                    created = self.client.create(self.namespace, self.request.manifest)
                    name = str(created["metadata"]["name"])
            except BackendRejectedError as error:
                message = f"Argo refused the workflow (HTTP {error.status_code}): {error.message}"
                self._finish(Observation(RunStatus.FAILED, FailureReason.BACKEND_ERROR, message))
                return False
            except BackendUnavailableError as error:
                # The request may have reached Argo before the answer was lost.
                maybe_created = True
                delay = backoff.next_delay()
                self._update(
                    message=f"waiting for the Argo Server ({error.reason}); "
                    f"retrying in {delay:.0f} s"
                )
                self._pause(delay)
                continue
            self._update(workflow_name=name, message="")
            return True
        return False

    def _find_earlier(self) -> str | None:
        """The workflow an earlier attempt created, if its answer got lost (by labels)."""
        if len(self.labels) != len(RUN_LABELS):
            return None
        found = self.client.find(self.namespace, self.labels)
        return str(found[0]["metadata"]["name"]) if found else None

    def _start_log_follower(self) -> None:
        url = (
            f"{self.config.server}/api/v1/workflows/{self.namespace}/{self.state.workflow_name}/log"
        )
        copier = LogCopier(self.http, url, self.log, self.position, self.config.token)
        backoff = Backoff(self.config.poll_seconds, self.config.retry_max_seconds)
        self._follower = LogFollower(
            copier, backoff, self.config.poll_seconds, self.config.log_drain_seconds
        )
        follower = self._follower

        def gave_up(why: str) -> None:
            self.log.note(f"could not make sure the log is complete (Argo: {why})")

        self._follower_thread = threading.Thread(
            target=follower.run, args=(gave_up,), name="pyjobs-argo-log", daemon=True
        )
        self._follower_thread.start()

    def _watch(self) -> None:
        """Poll the workflow until it ends (or the executor closes)."""
        backoff = Backoff(self.config.poll_seconds, self.config.retry_max_seconds)
        name = self.state.workflow_name
        while not self.closing.is_set():
            next_step = self._shutdown_if_asked()
            try:
                seen = observe(self.client.get(self.namespace, name))
                backoff.reset()
                delay = self.config.poll_seconds
            except BackendRejectedError as error:
                if error.status_code == 404:
                    self._finish(
                        Observation(
                            RunStatus.FAILED,
                            FailureReason.BACKEND_ERROR,
                            f"workflow {name} no longer exists in Argo",
                        )
                    )
                    return
                seen, delay = None, backoff.next_delay()
                self._update(message=f"Argo refused to show workflow {name}: {error.message}")
            except BackendUnavailableError as error:
                seen, delay = None, backoff.next_delay()
                self._update(
                    message=f"lost contact with the Argo Server ({error.reason}); "
                    f"retrying in {delay:.0f} s"
                )
            if seen is not None and self._apply(seen):
                return
            self._pause(min(delay, next_step))

    def _apply(self, seen: Observation) -> bool:
        """Take a reading in; True once the run has ended."""
        if seen.status.is_final:
            self._finish(seen)
            return True
        if seen.status is RunStatus.RUNNING and self.state.status is RunStatus.PENDING:
            self._update(
                status=RunStatus.RUNNING, started_at=seen.started_at or time.time(), message=""
            )
        elif seen.status is self.state.status:
            self._update(message=seen.message)
        return False

    def _shutdown_if_asked(self) -> float:
        """Send the stop, then the terminate after the grace; the time until the next step."""
        if not self.cancel_requested.is_set() or self._terminated:
            return self.config.retry_max_seconds
        name, now = self.state.workflow_name, time.monotonic()
        try:
            if self._stop_sent_at is None:
                self.client.stop(self.namespace, name)  # False: it had ended already
                self._stop_sent_at = now
            elif now - self._stop_sent_at >= self.config.cancel_grace_seconds:
                self.client.terminate(self.namespace, name)
                self._terminated = True
        except BackendRejectedError as error:
            logger.warning("Argo refused to stop %s: %s", name, error)
            self._stop_sent_at = self._stop_sent_at or now
        except BackendUnavailableError as error:
            logger.warning("could not stop %s yet: %s", name, error)
            return self.config.poll_seconds
        if self._stop_sent_at is None or self._terminated:
            return self.config.poll_seconds
        return max(0.0, self._stop_sent_at + self.config.cancel_grace_seconds - now)

    def _finish(self, seen: Observation) -> None:
        """Record the end once the log is complete, so log followers see all of it."""
        if self._follower is not None and self._follower_thread is not None:
            self._follower.ended.set()
            self._follower.notify()
            self._follower_thread.join(self.config.log_drain_seconds + self.config.request_timeout)
        status, reason = seen.status, seen.reason
        if self.cancel_requested.is_set() and status is RunStatus.FAILED:
            status, reason = RunStatus.CANCELLED, FailureReason.CANCELLED
        if (
            status.is_final
            and self.state.status is RunStatus.PENDING
            and (status is RunStatus.SUCCEEDED or seen.started_at is not None)
        ):
            # It ran between two readings: pass through running, as every run does.
            self._update(status=RunStatus.RUNNING, started_at=seen.started_at or time.time())
        self.log.close()
        self._update(
            status=status,
            reason=reason,
            message=seen.message,
            exit_code=seen.exit_code,
            run_seconds=seen.run_seconds,
            finished_at=seen.finished_at or time.time(),
        )
        self.ended.set()
