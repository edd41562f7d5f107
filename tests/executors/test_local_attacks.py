"""Hostile code through the whole local executor: the host, the cache and other runs stay safe.

The sandbox's own attack tests (test_sandbox_attacks.py) cover bombs, daemons, kill(-1),
files and the network at the sandbox level; these cover what only the executor adds:
the environment cache, PYJOBS_HOME and the server's own environment.
"""

from __future__ import annotations

import os

import pytest

from pyjobs.executors.local import LocalExecutor
from pyjobs.executors.localconfig import LocalRunConfig
from pyjobs.status import RunStatus
from tests.support.local import run

PLANT = """
import pathlib, site, sys
target = pathlib.Path(site.getsitepackages()[0]) / "sitecustomize.py"
try:
    target.write_text("print('PWNED')")
    print("planted", target)
except OSError as error:
    print("refused", type(error).__name__, error.errno)
print("prefix", sys.prefix)
"""


def test_a_run_cannot_plant_code_in_the_shared_environment(
    executor: LocalExecutor, local_config: LocalRunConfig
) -> None:
    first = run(executor, {"python_code": PLANT, "dependencies": "six"})
    assert first.state.status is RunStatus.SUCCEEDED, first.text
    assert "refused OSError 30" in first.text  # EROFS: the env is mounted read-only
    assert "prefix /env" in first.text
    second = run(executor, {"python_code": "import six; print('clean')", "dependencies": "six"})
    assert second.state.env_cache_hit is True
    assert second.text == "clean\n"
    site_dirs = list(local_config.envs_dir.glob("envs/*/env/lib/*/site-packages"))
    assert site_dirs  # the glob looks where the cache really keeps environments
    assert [d for d in site_dirs if (d / "sitecustomize.py").exists()] == []


def test_pyjobs_home_and_the_server_environment_are_invisible(
    executor: LocalExecutor, local_config: LocalRunConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "pyjobs-test-secret-6c1f"  # noqa: S105 - a marker, not a credential
    monkeypatch.setenv("PYJOBS_TEST_SECRET", secret)
    database = local_config.home / "pyjobs.db"
    database.write_text(secret)
    code = f"""
import os, pathlib
print("env", "PYJOBS_TEST_SECRET" in os.environ)
for proc in pathlib.Path("/proc").iterdir():
    if proc.name.isdigit():
        try:
            data = (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()
        except OSError:
            continue
        print("proc", proc.name, {secret!r}.encode() in data)
try:
    print("db", open({str(database)!r}).read())
except OSError as error:
    print("db", type(error).__name__)
print("home", os.path.exists({str(local_config.home)!r}))
"""
    done = run(executor, {"python_code": code})
    assert done.state.status is RunStatus.SUCCEEDED, done.text
    assert secret not in done.text.replace(repr(secret), "")  # only the code's own literal
    lines = done.text.splitlines()
    assert "env False" in lines
    assert "db FileNotFoundError" in lines
    assert "home False" in lines
    assert not any(line.startswith("proc") and line.endswith("True") for line in lines)


def test_runs_cannot_see_each_other(executor: LocalExecutor, local_config: LocalRunConfig) -> None:
    code = (
        "import os\n"
        "print(sorted(os.listdir('/')))\n"
        "print(os.listdir('/work'))\n"
        "open('/work/mine.txt', 'w').write('x')\n"
    )
    first = run(executor, {"python_code": code})
    second = run(executor, {"python_code": code})
    assert first.state.status is second.state.status is RunStatus.SUCCEEDED
    assert second.text.splitlines()[-1] == "[]"  # the first run's file is not there
    assert str(local_config.sandbox_root) not in first.text
    visible = eval(first.text.splitlines()[-2])  # noqa: S307 - our own printed list
    assert set(visible) <= {
        "bin",
        "dev",
        "env",
        "etc",
        "job",
        "lib",
        "lib64",
        "proc",
        "sbin",
        "tmp",
        "usr",
        "work",
    }
    assert not os.path.exists(local_config.jobs_dir / first.state.run_id / "work")
