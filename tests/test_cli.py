"""`pyjobs render`: the workflow YAML on stdout, or one line and exit status 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from pyjobs.cli import cli
from tests.support.argo_schema import workflow_errors


def render(
    *args: str, env: dict[str, str] | None = None, stdin: str | None = None
) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["render", *args], env=env, input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_render_prints_a_schema_valid_hardened_workflow() -> None:
    code, out, _ = render("-c", "print(1)", "--with", "numpy")
    assert code == 0
    manifest = yaml.safe_load(out)
    assert workflow_errors(manifest) == []
    assert manifest["metadata"]["generateName"] == "python-job-"
    assert manifest["spec"]["templates"][0]["script"]["securityContext"]["capabilities"] == {
        "drop": ["ALL"]
    }


def test_both_builders_print_the_same_text() -> None:
    args = ["-c", "print(1)", "--with", "numpy", "--memory", "256", "--cpu", "0.5"]
    hera = render(*args, "--builder", "hera")
    template = render(*args, "--builder", "template")
    by_flag = render(*args, env={"USE_HERA_SDK": "false"})
    assert hera[0] == template[0] == by_flag[0] == 0
    assert hera[1] == template[1] == by_flag[1]


def test_render_reads_files_and_all_flags(tmp_path: Path) -> None:
    program = tmp_path / "job.py"
    program.write_text("print('from a file')\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pandas>=2.0.0\nnumpy>=1.24.0\n")
    code, out, _ = render(
        str(program),
        "-r",
        str(requirements),
        "--with",
        "six",
        "--timeout",
        "90",
        "--memory",
        "300",
        "--cpu",
        "2",
        "--namespace",
        "team-a",
        "-e",
        "A=1=2",
        "--no-network",
    )
    assert code == 0
    manifest = yaml.safe_load(out)
    assert manifest["metadata"]["namespace"] == "team-a"
    assert manifest["spec"]["activeDeadlineSeconds"] == 90
    script = manifest["spec"]["templates"][0]["script"]
    assert script["resources"]["limits"] == {"cpu": "2000m", "memory": "300Mi"}
    assert manifest["spec"]["podMetadata"]["labels"]["pyjobs/network"] == "off"
    assert "has_requirements() { true; }" in script["source"]


def test_code_from_stdin() -> None:
    code, out, _ = render("-", stdin="print('stdin')\n")
    assert code == 0
    assert "kind: Workflow" in out


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["-c", "print(1)", "--with", "numpy; rm -rf /"],
            "pyjobs: invalid dependencies[0]: not a valid PEP 508 requirement: 'numpy; rm -rf /'",
        ),
        (
            ["-c", "print(1)", "--with", "-e git+https://example.invalid/x"],
            "pyjobs: invalid dependencies[0]: options are not allowed: '-e'",
        ),
        (
            ["-c", "print(1)", "--timeout", "0"],
            "pyjobs: invalid timeout_seconds: Input should be greater than or equal to 1",
        ),
        (
            ["-c", "print(1)", "-e", "PATH=/x"],
            "pyjobs: invalid env: 'PATH' is reserved for the job itself",
        ),
        (["-c", "print(1)", "-e", "NOEQUALS"], "pyjobs: env: expected NAME=VALUE, got 'NOEQUALS'"),
        (["-c", ""], "pyjobs: invalid python_code: code is empty"),
        ([], "pyjobs: python_code: give a FILE or -c CODE (one of them)"),
        (
            ["/nonexistent/job.py"],
            "pyjobs: python_code: cannot read '/nonexistent/job.py': No such file or directory",
        ),
        (
            ["-c", "1", "--namespace", "Team_A"],
            "pyjobs: invalid namespace: 'Team_A' is not a DNS-1123 label"
            " (a-z, 0-9, '-', at most 63)",
        ),
    ],
)
def test_invalid_input_is_one_line_and_status_2(args: list[str], line: str) -> None:
    code, out, err = render(*args)
    assert (code, out) == (2, "")
    assert err == line + "\n"


def test_requirements_option_is_refused_naming_the_line(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("numpy\n--index-url http://x\n")
    code, _, err = render("-c", "1", "-r", str(requirements))
    assert code == 2
    assert err == (
        "pyjobs: invalid requirements_file: line 2: option '--index-url' is not allowed\n"
    )


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    program = tmp_path / "latin1.py"
    program.write_bytes(b"print('caf\xe9')\n")
    code, _, err = render(str(program))
    assert code == 2
    assert err.startswith("pyjobs: python_code:")
    assert "not valid UTF-8" in err


def test_bad_setting_is_one_line_and_status_2() -> None:
    code, _, err = render("-c", "1", env={"USE_HERA_SDK": "maybe"})
    assert code == 2
    assert err.startswith("pyjobs: invalid setting USE_HERA_SDK:")


def test_console_script_is_installed() -> None:
    pyjobs = Path(sys.executable).parent / "pyjobs"
    result = subprocess.run(
        [str(pyjobs), "render", "-c", "print(1)", "--with", "numpy"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["kind"] == "Workflow"
