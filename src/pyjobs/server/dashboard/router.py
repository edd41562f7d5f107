"""Serve the dashboard: `/` is its page, `/dashboard/…` its assets, all with strict headers."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).parent / "static"
ASSETS_PREFIX = "/dashboard"

# The page runs only its own files: no inline script or style, no other origin, no framing.
# The API is same-origin, so connect-src 'self' covers fetch() of /api/v1.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    # Revalidate on every load (ETag/Last-Modified make that cheap), so an upgraded server
    # never pairs a new page with stale modules.
    "Cache-Control": "no-cache",
}
# Explicit types: with nosniff a module served as text/plain (as some hosts' MIME tables
# say for .js) would not run at all.
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".md": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}


class DashboardFiles(StaticFiles):
    """StaticFiles that adds the dashboard's security headers and fixed media types."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file's response (or 304/404), with the headers of every dashboard answer."""
        response = await super().get_response(path, scope)
        media_type = _MEDIA_TYPES.get(Path(path).suffix)
        if media_type is not None and response.status_code == 200:
            response.headers["content-type"] = media_type
        response.headers.update(SECURITY_HEADERS)
        return response


router = APIRouter(include_in_schema=False)


@router.api_route("/", methods=["GET", "HEAD"])
def index() -> FileResponse:
    """The dashboard's single page; the views live in its hash (`#/tasks/ID`, `#/new`)."""
    return FileResponse(
        STATIC_DIR / "index.html", media_type=_MEDIA_TYPES[".html"], headers=SECURITY_HEADERS
    )


def install(app: FastAPI) -> None:
    """Serve the dashboard from `app`: the page at `/`, its assets under `/dashboard/`."""
    app.include_router(router)
    # A mount, not a route: FastAPI's include_router would drop a Mount inside a router.
    app.mount(ASSETS_PREFIX, DashboardFiles(directory=STATIC_DIR), name="dashboard")
