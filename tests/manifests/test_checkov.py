"""checkov's Argo Workflows checks pass on every rendered manifest."""

from __future__ import annotations

from pathlib import Path

from pyjobs.manifests import build_manifest, render_yaml
from tests.manifests.cases import CASES
from tests.support.tools import run_checkov


def test_checkov_argo_checks_pass(tmp_path: Path) -> None:
    for name, case in CASES.items():
        manifest = build_manifest(case.spec, case.options, case.run)
        (tmp_path / f"{name}.yaml").write_text(render_yaml(manifest), encoding="utf-8")
    (report,) = run_checkov(tmp_path, "argo_workflows")
    summary = report["summary"]
    failed = [(c["check_id"], c["file_path"]) for c in report["results"]["failed_checks"]]
    assert failed == []
    assert summary["failed"] == 0
    # Both Argo checks (no default service account, non-root) ran on every manifest.
    assert summary["passed"] == 2 * len(CASES), summary
