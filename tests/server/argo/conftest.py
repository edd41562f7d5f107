"""The Argo backend end to end: a stand-in Argo Server, or a real one when configured.

Every test here runs against the in-process stand-in (`tests/support/fake_argo.py`), and
again against a real Argo Server when `PYJOBS_TEST_ARGO_SERVER` (and
`PYJOBS_TEST_ARGO_TOKEN`, `PYJOBS_TEST_ARGO_NAMESPACE`) are set; otherwise the real-server
variant is skipped, saying so. Tests that need Argo to misbehave run on the stand-in only.
No bubblewrap is needed: nothing runs on this machine.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from pydantic import SecretStr

from pyjobs.config import Backend, Settings
from tests.support.fake_argo import FakeArgo, fake_argo

REAL_ARGO = "PYJOBS_TEST_ARGO_SERVER"


@dataclass(frozen=True)
class ArgoTarget:
    """The Argo Server under test, and the stand-in's controls when it is the stand-in."""

    url: str
    token: str | None
    namespace: str
    verify_ssl: bool
    fake: FakeArgo | None

    @property
    def patience(self) -> float:
        """How long a run may take: pods on a real cluster pull images and install."""
        return 30.0 if self.fake else 900.0

    def stand_in(self, why: str) -> FakeArgo:
        """The stand-in; skips the test on a real server, which cannot be made to do this."""
        if self.fake is None:
            pytest.skip(f"needs the stand-in: {why}")
        return self.fake


@pytest.fixture(params=["stand-in", "real"])
def argo(request: pytest.FixtureRequest) -> Iterator[ArgoTarget]:
    """The stand-in, or the real Argo Server of `PYJOBS_TEST_ARGO_SERVER`."""
    if request.param == "real":
        url = os.environ.get(REAL_ARGO)
        if not url:
            pytest.skip(f"{REAL_ARGO} is not set: no real Argo Server to test against")
        yield ArgoTarget(
            url,
            os.environ.get("PYJOBS_TEST_ARGO_TOKEN"),
            os.environ.get("PYJOBS_TEST_ARGO_NAMESPACE", "argo"),
            os.environ.get("PYJOBS_TEST_ARGO_VERIFY_SSL", "true").lower() != "false",
            None,
        )
        return
    with fake_argo() as fake:
        yield ArgoTarget(fake.url, fake.token, "argo", True, fake)
        # Whatever pyjobs sent, the Argo Server's spec and schema allowed it.
        assert fake.violations == []


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite: these tests are about Argo (the restart test adds PostgreSQL)."""
    return f"sqlite:///{tmp_path / 'pyjobs.db'}"


def argo_settings(argo: ArgoTarget, home: Path, database_url: str) -> Settings:
    """Settings of a pyjobs server on the Argo backend, quick against the stand-in."""
    quick = argo.fake is not None
    return Settings(
        home=home,
        database_url=database_url,
        backend=Backend.ARGO,
        argo_server=argo.url,
        argo_token=SecretStr(argo.token) if argo.token else None,
        argo_namespace=argo.namespace,
        argo_verify_ssl=argo.verify_ssl,
        argo_poll_seconds=0.05 if quick else 1.0,
        argo_retry_max_seconds=0.3 if quick else 5.0,
        argo_request_timeout_seconds=1.0 if quick else 30.0,
        argo_cancel_grace_seconds=1.0 if quick else 10.0,
    )


@pytest.fixture
def settings(argo: ArgoTarget, database_url: str, tmp_path: Path) -> Settings:
    """A server on the Argo backend (overrides the local one of `tests/server`)."""
    return argo_settings(argo, tmp_path / "home", database_url)
