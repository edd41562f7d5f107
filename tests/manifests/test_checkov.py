"""checkov's Argo Workflows checks pass on every rendered manifest."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from pyjobs.manifests import build_manifest, render_yaml
from tests.manifests.cases import CASES
from tests.support.host import REPO, require


def _checkov() -> str | None:
    # `make install` puts checkov in a venv of its own (its pins clash with pyjobs').
    candidates = [
        os.environ.get("PYJOBS_CHECKOV", ""),
        str(REPO / ".venv" / "checkov" / "bin" / "checkov"),
        str(Path(sys.executable).parent / "checkov"),
    ]
    found = next((c for c in candidates if c and Path(c).is_file()), None)
    return found or shutil.which("checkov")


def test_checkov_argo_checks_pass(tmp_path: Path) -> None:
    checkov = _checkov()
    require(checkov is not None, "checkov is not installed (make install puts it in .venv/checkov)")
    assert checkov is not None
    for name, case in CASES.items():
        manifest = build_manifest(case.spec, case.options, case.run)
        (tmp_path / f"{name}.yaml").write_text(render_yaml(manifest), encoding="utf-8")
    result = subprocess.run(
        # --skip-download: checkov otherwise calls its vendor's cloud API for guidelines.
        [
            checkov,
            "--directory",
            str(tmp_path),
            "--framework",
            "argo_workflows",
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
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [(c["check_id"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert summary["failed"] == 0
    # Both Argo checks (no default service account, non-root) ran on every manifest.
    assert summary["passed"] == 2 * len(CASES), summary
