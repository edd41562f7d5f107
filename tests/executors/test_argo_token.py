"""The Argo Server's token: fixed, or a file re-read when it rotates (as the kubelet does it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from pyjobs.config import Backend, Settings
from pyjobs.errors import BackendUnavailableError, ConfigurationError
from pyjobs.executors.argo_config import ArgoConfig
from pyjobs.executors.argo_token import ArgoToken, authorization
from tests.support.tokens import project_token


@pytest.mark.parametrize(
    ("given", "header"),
    [
        ("abc", "Bearer abc"),
        ("Bearer abc", "Bearer abc"),
        ("  bearer  abc \n", "Bearer abc"),
        ("", None),
        ("  \n", None),
        (None, None),
    ],
)
def test_the_header_takes_a_token_with_or_without_its_prefix(
    given: str | None, header: str | None
) -> None:
    assert authorization(given) == header
    assert ArgoToken(given).header() == header


def test_a_token_file_is_read_again_when_it_rotates(tmp_path: Path) -> None:
    project_token(tmp_path, "first", 1)
    token = ArgoToken(path=tmp_path / "token")
    assert token.header() == "Bearer first"
    assert token.header() == "Bearer first"
    project_token(tmp_path, "second", 2)
    assert token.header() == "Bearer second"


def test_a_missing_token_file_is_a_retryable_error(tmp_path: Path) -> None:
    token = ArgoToken(path=tmp_path / "token")
    with pytest.raises(BackendUnavailableError, match="cannot read the token file"):
        token.header()
    (tmp_path / "token").write_text("late", encoding="utf-8")
    assert token.header() == "Bearer late"


def test_a_token_and_a_token_file_are_exclusive(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        backend=Backend.ARGO,
        argo_server="https://argo.example:2746",
        argo_token=SecretStr("abc"),
        argo_token_file=tmp_path / "token",
    )
    with pytest.raises(ConfigurationError, match="not both"):
        ArgoConfig.from_settings(settings)
    with pytest.raises(ValueError, match="not both"):
        ArgoToken("abc", tmp_path / "token")
