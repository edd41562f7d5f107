"""The original POC's examples through `create_workflow_with_hera`, run for real locally."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pyjobs
from pyjobs import InvalidTaskError
from pyjobs.hera_api import close_default_executor
from pyjobs.status import RunStatus
from tests.executors.conftest import require_bwrap


@pytest.fixture
def local_backend(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, shared_sandbox_root: Path
) -> Iterator[None]:
    require_bwrap()
    monkeypatch.setenv("PYJOBS_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PYJOBS_SANDBOX_ROOT", str(shared_sandbox_root))
    monkeypatch.setenv("PYJOBS_SANDBOX", "bwrap")
    monkeypatch.delenv("PYJOBS_BACKEND", raising=False)
    close_default_executor()
    yield
    close_default_executor()


def finish(name: str) -> tuple[RunStatus, str]:
    state = pyjobs.wait_for_workflow(name, timeout=600)
    return state.status, b"".join(pyjobs.workflow_logs(name)).decode()


@pytest.mark.usefixtures("local_backend")
def test_the_three_examples_of_the_original_poc() -> None:
    plain = pyjobs.create_workflow_with_hera("print('Hello from pyjobs')")
    with_numpy = pyjobs.create_workflow_with_hera(
        "import numpy as np\nprint(np.array([1, 2, 3]).mean())", dependencies="numpy"
    )
    with_requirements = pyjobs.create_workflow_with_hera(
        "import pandas as pd, numpy as np\nprint(pd.DataFrame({'a': np.arange(3)})['a'].sum())",
        requirements_file="pandas>=2.0.0\nnumpy>=1.24.0",
    )
    for name in (plain, with_numpy, with_requirements):
        assert name.startswith("python-job-")
    outputs = {}
    for name in (plain, with_numpy, with_requirements):
        status, log = finish(name)
        assert status is RunStatus.SUCCEEDED, log
        outputs[name] = log.splitlines()[-1]
    assert outputs == {plain: "Hello from pyjobs", with_numpy: "2.0", with_requirements: "3"}
    assert pyjobs.workflow_state(plain).workflow_name == plain


@pytest.mark.usefixtures("local_backend")
def test_invalid_input_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidTaskError) as caught:
        pyjobs.create_workflow_with_hera("print(1)", dependencies="numpy; rm -rf /")
    assert caught.value.field.startswith("dependencies")
    with pytest.raises(InvalidTaskError) as caught:
        pyjobs.create_workflow_with_hera("print(1)", requirements_file="--index-url http://x")
    assert caught.value.field == "requirements_file"
