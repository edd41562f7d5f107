"""`create_workflow_with_hera` on the Argo backend: it returns the name Argo gave."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pyjobs
from pyjobs.errors import PyjobsError
from pyjobs.hera_api import close_default_executor
from pyjobs.status import RunStatus
from tests.server.argo.conftest import ArgoTarget
from tests.server.argo.helpers import job


@pytest.fixture
def argo_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, argo: ArgoTarget
) -> Iterator[ArgoTarget]:
    monkeypatch.setenv("PYJOBS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYJOBS_BACKEND", "argo")
    monkeypatch.setenv("PYJOBS_ARGO_SERVER", argo.url)
    # Given with its prefix, as `argo auth token` prints it.
    monkeypatch.setenv("PYJOBS_ARGO_TOKEN", f"Bearer {argo.token}" if argo.token else "")
    monkeypatch.setenv("PYJOBS_ARGO_NAMESPACE", argo.namespace)
    monkeypatch.setenv("PYJOBS_ARGO_VERIFY_SSL", str(argo.verify_ssl).lower())
    monkeypatch.setenv("PYJOBS_ARGO_POLL_SECONDS", "0.05" if argo.fake else "1")
    close_default_executor()
    yield argo
    close_default_executor()


def test_create_wait_and_read_the_logs(argo_backend: ArgoTarget) -> None:
    name = pyjobs.create_workflow_with_hera(
        job(((0, "Hello from pyjobs"),)), namespace=argo_backend.namespace
    )
    assert name.startswith("python-job-")
    assert len(name) == len("python-job-") + 5
    state = pyjobs.wait_for_workflow(name, timeout=argo_backend.patience)
    assert state.status is RunStatus.SUCCEEDED
    assert b"".join(pyjobs.workflow_logs(name)).decode() == "Hello from pyjobs\n"
    if argo_backend.fake is not None:
        assert list(argo_backend.fake.workflows) == [name]


def test_a_refused_workflow_raises(argo_backend: ArgoTarget) -> None:
    fake = argo_backend.stand_in("an Argo Server that refuses")
    fake.fail_next(400, "no such namespace", method="POST")
    with pytest.raises(PyjobsError, match="no such namespace"):
        pyjobs.create_workflow_with_hera("print(1)")
