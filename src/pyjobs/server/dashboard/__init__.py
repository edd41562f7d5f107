"""The web dashboard: static HTML, CSS and ES modules served by `pyjobs serve` at `/`."""

from __future__ import annotations

from pyjobs.server.dashboard.router import SECURITY_HEADERS, STATIC_DIR, install

__all__ = ["SECURITY_HEADERS", "STATIC_DIR", "install"]
