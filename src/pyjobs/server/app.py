"""The FastAPI application: routes, dashboard, error mapping, middleware, the dispatcher's life."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI

from pyjobs.config import Backend, Settings
from pyjobs.executors.base import Executor, StateListener
from pyjobs.manifests import WorkflowFactory
from pyjobs.server import dashboard, httperrors
from pyjobs.server.auth import TokenChecker
from pyjobs.server.db.batchinsert import batch_inserter
from pyjobs.server.db.engine import Database
from pyjobs.server.db.upgrade import upgrade
from pyjobs.server.dispatcher import Dispatcher
from pyjobs.server.middleware import AccessLog, BodyLimit
from pyjobs.server.routes import ops, tasks
from pyjobs.server.service import TaskService
from pyjobs.server.writer import SubmitWriter

# How `pyjobs serve` runs uvicorn; the benchmarks serve their bare baseline the same way.
UVICORN_OPTIONS: dict[str, Any] = {
    "access_log": False,
    "log_level": "info",
    "timeout_graceful_shutdown": 30,
}

# Code (256 KiB) + requirements (256 KiB) + variables (64 KiB), JSON-escaped, with room.
MAX_BODY_BYTES = 2 * 1024 * 1024


def make_executor(settings: Settings, listener: StateListener) -> Executor:
    """The executor of the configured backend."""
    if settings.backend is Backend.LOCAL:
        from pyjobs.executors.local import LocalExecutor  # noqa: PLC0415 - local only
        from pyjobs.executors.localconfig import LocalRunConfig  # noqa: PLC0415

        return LocalExecutor(LocalRunConfig.from_settings(settings), listener)
    from pyjobs.executors.argo import ArgoExecutor  # noqa: PLC0415 - argo only
    from pyjobs.executors.argo_config import ArgoConfig  # noqa: PLC0415

    return ArgoExecutor(ArgoConfig.from_settings(settings), listener)


def create_app(settings: Settings | None = None, *, insecure: bool = False) -> FastAPI:
    """A ready-to-serve application for `settings` (default: from the environment)."""
    settings = settings or Settings()
    database = Database(settings.database)
    local = settings.backend is Backend.LOCAL
    dispatcher = Dispatcher(
        database,
        lambda listener: make_executor(settings, listener),
        WorkflowFactory.from_settings(settings),
        # Locally each run takes a CPU; on Argo the cluster schedules, we only follow.
        capacity=settings.max_concurrent if local else settings.argo_max_in_flight,
        dispatch=settings.dispatch,
        backend=settings.backend.value,
        shutdown_grace=settings.shutdown_grace_seconds,
    )

    # Every submit's rows go through this one writer, which wakes the dispatcher per commit.
    writer = SubmitWriter(batch_inserter(database), on_commit=dispatcher.wake)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await to_thread.run_sync(upgrade, database)
        await to_thread.run_sync(dispatcher.start)
        writer.start()
        try:
            yield
        finally:
            # Queued submissions are committed (and answered) before the dispatcher stops.
            await writer.stop()
            await to_thread.run_sync(dispatcher.stop)
            database.dispose()

    app = FastAPI(
        title="pyjobs",
        summary="Run Python code with the pip packages it needs as isolated jobs.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.dispatcher = dispatcher
    app.state.tokens = TokenChecker(database)
    app.state.insecure = insecure
    app.state.service = TaskService(settings, database, dispatcher, writer)
    httperrors.install(app)
    app.include_router(tasks.router)
    app.include_router(ops.router)
    dashboard.install(app)
    app.add_middleware(BodyLimit, limit=MAX_BODY_BYTES)
    app.add_middleware(AccessLog)
    return app
