"""What the host offers the tests: CI rules, an unprivileged uid, the Argo schema files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PYJOBS_SHARED_DIR", REPO.parent / "shared"))
ARGO_SCHEMA = SHARED / "argo" / "schema.json"
# The uid tests run untrusted-ish jobs as, like the local executor does when root.
SANDBOX_UID = 65534


def in_ci() -> bool:
    """True when running in CI, where a missing requirement is a failure, not a skip."""
    return os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip (on a laptop) or fail (in CI) when the host lacks something a test needs."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"CI must provide this: {reason}")
    pytest.skip(reason)


def is_root() -> bool:
    """True when the tests run as root, so they can drop to an unprivileged uid."""
    return os.geteuid() == 0


def make_world_dir(path: Path, owner: int | None = None) -> Path:
    """Create a directory the unprivileged test uid can use (owned by it when we are root)."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o755)
    if owner is not None and is_root():
        os.chown(path, owner, owner)
    return path
