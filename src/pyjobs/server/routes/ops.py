"""Operations: liveness, readiness, Prometheus metrics."""

from __future__ import annotations

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text

from pyjobs.server.metrics import METRICS

router = APIRouter(tags=["operations"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


def _database_ok(request: Request) -> bool:
    try:
        with request.app.state.database.reader() as session:
            session.execute(text("SELECT 1"))
    except Exception:  # any failure means "not ready", whatever the driver raised
        return False
    return True


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """The database answers and the dispatcher (with its executor) is running."""
    checks = {
        "database": await to_thread.run_sync(_database_ok, request),
        "executor": request.app.state.dispatcher.ready(),
    }
    ready = all(checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
def metrics() -> Response:
    """Prometheus text format."""
    return Response(METRICS.render(), media_type=CONTENT_TYPE_LATEST)
