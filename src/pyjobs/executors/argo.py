"""The Argo executor: runs a task's workflow on a Kubernetes cluster through the Argo Server.

`submit` hands the run's manifest to Argo (through Hera's `WorkflowsService`) and follows
the workflow until it ends; `attach` follows again one that an earlier server created, so
a restart never loses a run that goes on in the cluster. Each run has a thread of its own
(`argo_run.ArgoRun`) and copies the workflow's log into the run's log file as it comes.
Closing the executor stops following; the workflows are left to run.
"""

from __future__ import annotations

import logging

import httpx

from pyjobs.errors import ExecutorClosedError
from pyjobs.executors.argo_client import ArgoClient
from pyjobs.executors.argo_config import ArgoConfig
from pyjobs.executors.argo_run import ArgoRun
from pyjobs.executors.base import RunRequest, RunState, StateListener
from pyjobs.executors.runbook import RunBook

logger = logging.getLogger(__name__)


class ArgoExecutor(RunBook[ArgoRun]):
    """Creates and follows Argo Workflows; every method is safe to call from any thread."""

    def __init__(
        self,
        config: ArgoConfig,
        listener: StateListener | None = None,
        client: ArgoClient | None = None,
    ) -> None:
        self.config = config
        self._listener = listener
        self._client = client or ArgoClient(
            config.server,
            config.token,
            verify_ssl=config.verify_ssl,
            timeout=config.request_timeout,
        )
        # Log streams may stay silent as long as the program is: a long read timeout, and
        # a broken or timed-out stream is simply opened again (nothing is copied twice).
        timeout = httpx.Timeout(config.request_timeout, read=max(60.0, config.request_timeout))
        self._http = httpx.Client(verify=config.verify_ssl, timeout=timeout)
        super().__init__()
        self._closed = False
        config.home.mkdir(parents=True, exist_ok=True, mode=0o700)

    def submit(self, request: RunRequest) -> RunState:
        """Create the run's workflow (in the background, retried while Argo is away)."""
        run = self._add(request)
        self._notify(run.state)
        run.thread.start()
        return run.state

    def attach(self, request: RunRequest) -> RunState:
        """Follow again a workflow created earlier (`request.workflow_name`), from its state."""
        if not request.workflow_name:
            raise ValueError(f"run {request.run_id}: attach needs the workflow's name")
        run = self._add(request)
        run.thread.start()
        return run.state

    def cancel(self, run_id: str) -> RunState:
        """Stop the workflow (`stop`, then `terminate` after the grace period)."""
        run = self._get(run_id)
        run.cancel()
        return run.state

    def close(self) -> None:
        """Stop following; the workflows go on in the cluster, for a server to re-attach."""
        with self._lock:
            self._closed = True
            runs = list(self._runs.values())
        for run in runs:
            run.close()
        for run in runs:
            if run.thread.is_alive():
                run.thread.join(self.config.request_timeout + 1)
            run.log.close()
        self._client.close()
        self._http.close()

    def _add(self, request: RunRequest) -> ArgoRun:
        with self._lock:
            if self._closed:
                raise ExecutorClosedError("the Argo executor is closed")
            if request.run_id in self._runs and not self._runs[request.run_id].ended.is_set():
                raise ValueError(f"run {request.run_id!r} is already being followed")
            run = ArgoRun(request, self.config, self._client, self._http, self._notify)
            self._runs[request.run_id] = run
        return run

    def _notify(self, state: RunState) -> None:
        if self._listener is None:
            return
        try:
            self._listener(state)
        except Exception:  # a listener's failure must not kill a run's thread
            logger.exception("run state listener failed for %s", state.run_id)
