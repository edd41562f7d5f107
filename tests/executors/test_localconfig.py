"""Where the local executor keeps things: the uv download cache and its override."""

from __future__ import annotations

from contextlib import closing
from dataclasses import replace
from pathlib import Path

import pytest

from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.status import RunStatus
from tests.support.local import run


def test_the_uv_cache_lives_under_the_sandbox_root_by_default(tmp_path: Path) -> None:
    config = LocalRunConfig(home=tmp_path / "home", sandbox_root=tmp_path / "root")
    assert config.uv_cache_dir == tmp_path / "root" / "uv-cache"


def test_an_override_moves_the_uv_cache_out_of_the_sandbox_root(tmp_path: Path) -> None:
    config = LocalRunConfig(
        home=tmp_path / "home", sandbox_root=tmp_path / "root", uv_cache_override=tmp_path / "uv"
    )
    assert config.uv_cache_dir == tmp_path / "uv"
    assert config.envs_dir == tmp_path / "root" / "envs"


@pytest.mark.network
def test_two_sandbox_roots_build_with_one_shared_uv_cache(
    local_config: LocalRunConfig, host_dir: Path, shared_uv_cache: Path
) -> None:
    for name in ("first", "second"):
        config = replace(
            local_config, sandbox_root=host_dir / name, uv_cache_override=shared_uv_cache
        )
        with closing(LocalExecutor(config)) as executor:
            done = run(executor, {"python_code": "import six", "dependencies": ["six"]})
        assert done.state.status is RunStatus.SUCCEEDED, done.text
        assert done.state.env_cache_hit is False  # each root starts with an empty env cache
        assert not (host_dir / name / "uv-cache").exists()
    assert any(shared_uv_cache.iterdir())
