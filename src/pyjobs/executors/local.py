"""The local executor: runs a workflow's own script on this machine, in the sandbox.

A run has two sandboxed steps. Setup builds the task's environment — the same script with
`PYJOBS_SETUP_ONLY=1` — with network, into the environment cache (once per dependency set;
a hit skips it). The run itself is the script again, against that environment mounted
read-only at `/env`, with the task's limits and network setting. Both steps write into the
run's log, so a user sees uv's output and their program's in one stream.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from pyjobs.errors import ExecutorClosedError, RunNotFoundError
from pyjobs.executors.base import RunRequest, RunState, StateListener
from pyjobs.executors.envcache import EnvCache
from pyjobs.executors.jobrun import JobRunner
from pyjobs.executors.localconfig import LocalRunConfig, prepare_sandbox_root
from pyjobs.executors.outcome import RunOutcome
from pyjobs.executors.runbook import RunBook
from pyjobs.executors.runlog import RunLog, log_path
from pyjobs.executors.sandbox import reap_orphans
from pyjobs.manifests.reading import generate_workflow_name
from pyjobs.status import FailureReason, RunStatus

logger = logging.getLogger(__name__)


class _Run:
    """One run's mutable bookkeeping, guarded by the executor's lock."""

    def __init__(self, request: RunRequest, state: RunState, log: RunLog) -> None:
        self.request = request
        self.state = state
        self.log = log
        self.cancel_requested = threading.Event()
        self.ended = threading.Event()
        self.runner: JobRunner | None = None


class LocalExecutor(RunBook[_Run]):
    """Runs at most `max_concurrent` runs at once in the sandbox; the rest wait in order."""

    def __init__(self, config: LocalRunConfig, listener: StateListener | None = None) -> None:
        self.config = config
        self._listener = listener
        super().__init__()
        self._closed = False
        config.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        prepare_sandbox_root(config.sandbox_root)
        self._envs = EnvCache(config.envs_dir, config.env_cache_max_bytes)
        self._pool = ThreadPoolExecutor(config.max_concurrent, thread_name_prefix="pyjobs-run")
        reap_orphans()  # cgroups and processes a crashed server left behind

    def submit(self, request: RunRequest) -> RunState:
        """Queue a run; it starts as soon as one of the `max_concurrent` slots is free."""
        with self._lock:
            if self._closed:
                raise ExecutorClosedError("the local executor is closed")
            if request.run_id in self._runs:
                raise ValueError(f"run {request.run_id!r} was already submitted")
            log = RunLog(log_path(self.config.home, request.run_id), self.config.output_limit)
            name = request.workflow_name or generate_workflow_name()
            state = RunState(request.run_id, name)
            run = _Run(request, state, log)
            self._runs[request.run_id] = run
        self._notify(state)
        # The pool's own queue is FIFO, so runs start in the order they were submitted.
        self._pool.submit(self._work, request.run_id)
        return state

    def attach(self, request: RunRequest) -> RunState:
        """Local runs die with their server: there is never one to re-attach to."""
        raise RunNotFoundError(request.run_id)

    def cancel(self, run_id: str) -> RunState:
        """Stop the run; a pending one never starts, a running one's tree is killed."""
        run = self._get(run_id)
        run.cancel_requested.set()
        with self._lock:
            runner = run.runner
            if run.state.status is RunStatus.PENDING:
                self._finish(run, RunOutcome.cancelled("cancelled before it started"))
        if runner is not None:
            runner.kill()
        return run.state

    def close(self) -> None:
        """Cancel what is queued or running and wait for the workers to stop."""
        with self._lock:
            self._closed = True
            active = [r for r in self._runs.values() if not r.state.status.is_final]
        for run in active:
            self.cancel(run.request.run_id)
        self._pool.shutdown(wait=True)

    def _notify(self, state: RunState) -> None:
        if self._listener is None:
            return
        try:
            self._listener(state)
        except Exception:  # a listener's failure must not kill a worker thread
            logger.exception("run state listener failed for %s", state.run_id)

    def _work(self, run_id: str) -> None:
        run = self._get(run_id)
        with self._lock:
            if run.state.status.is_final:  # cancelled while it waited
                return
            runner = JobRunner(run.request, run.state.workflow_name, run.log, self.config)
            run.runner = runner
            run.state = run.state.moved(status=RunStatus.RUNNING, started_at=time.time())
            started = run.state
        self._notify(started)
        if run.cancel_requested.is_set():
            runner.kill()
        try:
            outcome = runner.run(self._envs, self._on_setup_done(run))
        except Exception as error:  # an executor bug must still end the run
            logger.exception("run %s failed inside the executor", run.request.run_id)
            outcome = RunOutcome.failed(FailureReason.BACKEND_ERROR, f"executor error: {error}")
        if run.cancel_requested.is_set() and outcome.status is not RunStatus.SUCCEEDED:
            outcome = outcome.as_cancelled()
        with self._lock:
            self._finish(run, outcome)

    def _on_setup_done(self, run: _Run) -> JobRunner.SetupListener:
        def record(hit: bool, seconds: float) -> None:
            with self._lock:
                run.state = run.state.moved(env_cache_hit=hit, setup_seconds=seconds)
                state = run.state
            self._notify(state)

        return record

    def _finish(self, run: _Run, outcome: RunOutcome) -> None:
        """Record the final state (caller holds the lock), close the log, wake waiters."""
        if run.state.status.is_final:
            return
        run.state = run.state.moved(
            status=outcome.status,
            reason=outcome.reason,
            message=outcome.message,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            run_seconds=outcome.run_seconds,
            limits=outcome.limits,
            finished_at=time.time(),
        )
        run.log.close()
        run.ended.set()
        state = run.state
        # Notify outside the caller's lock would be nicer, but ordering matters more here:
        # the final state must reach the listener after every earlier one.
        self._notify(state)
