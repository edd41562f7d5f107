"""Every manifest either builder makes is a valid, hardened Argo Workflow."""

from __future__ import annotations

from typing import Any

import pytest

from pyjobs.manifests import Builder, build_manifest
from tests.manifests.cases import CASES
from tests.support.argo_schema import workflow_errors
from tests.support.host import ARGO_SCHEMA, require


@pytest.fixture(scope="module", autouse=True)
def _schema_present() -> None:
    require(ARGO_SCHEMA.is_file(), f"Argo's schema is missing at {ARGO_SCHEMA}")


@pytest.mark.parametrize("builder", list(Builder))
@pytest.mark.parametrize("name", list(CASES))
def test_manifest_is_schema_valid(name: str, builder: Builder) -> None:
    case = CASES[name]
    manifest = build_manifest(case.spec, case.options, case.run, builder)
    assert workflow_errors(manifest) == []


def test_strict_schema_catches_unknown_and_mistyped_keys() -> None:
    case = CASES["minimal"]
    manifest = build_manifest(case.spec, case.options)
    manifest["spec"]["entrypoiint"] = "main"
    manifest["spec"]["templates"][0]["script"]["securityContext"]["runAsNonRoot"] = "yes"
    errors = workflow_errors(manifest)
    assert any("entrypoiint" in e for e in errors)
    assert any("runAsNonRoot" in e for e in errors)


def _hardening(manifest: dict[str, Any]) -> None:
    spec = manifest["spec"]
    assert spec["serviceAccountName"] not in ("", "default")
    assert spec["automountServiceAccountToken"] is False
    assert spec["executor"]["serviceAccountName"] == spec["serviceAccountName"]
    pod = spec["securityContext"]
    assert pod["runAsNonRoot"] is True
    assert pod["runAsUser"] > 0
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    container = spec["templates"][0]["script"]["securityContext"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["privileged"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["readOnlyRootFilesystem"] is True
    assert spec["ttlStrategy"]["secondsAfterCompletion"] >= 0
    assert spec["podGC"]["strategy"] == "OnPodCompletion"


@pytest.mark.parametrize("name", list(CASES))
def test_manifest_is_hardened_and_shaped_as_designed(name: str) -> None:
    case = CASES[name]
    manifest = build_manifest(case.spec, case.options, case.run)
    _hardening(manifest)
    assert manifest["metadata"]["generateName"] == "python-job-"
    assert manifest["metadata"]["namespace"] == case.spec.namespace or case.options.namespace
    spec = manifest["spec"]
    assert spec["entrypoint"] == "main"
    assert spec["activeDeadlineSeconds"] == case.spec.timeout_seconds
    (template,) = spec["templates"]
    script = template["script"]
    assert template["name"] == "main"
    assert script["command"] == ["bash"]
    assert script["image"] == case.options.image
    env = {e["name"]: e["value"] for e in script["env"]}
    assert env["ARGO_WORKFLOW_NAME"] == "{{workflow.name}}"
    assert env["DEPENDENCIES"].splitlines() == list(case.spec.dependencies)
    assert "uv venv" in script["source"]
    assert 'python" -c ' in script["source"]
    if case.run:
        labels = manifest["metadata"]["labels"]
        assert labels["pyjobs/task-id"] == case.run.task_id
        assert labels["pyjobs/run-number"] == str(case.run.run_number)


def test_user_text_never_reaches_the_manifest_as_text() -> None:
    case = CASES["env_network_namespace"]
    manifest = build_manifest(case.spec, case.options)
    script = manifest["spec"]["templates"][0]["script"]
    assert "GREETING" not in str(manifest)  # user variables travel base64 in the script
    tricky = build_manifest(CASES["tricky_code"].spec, case.options)
    source = tricky["spec"]["templates"][0]["script"]["source"]
    # The only Argo template expression in the workflow is the one pyjobs puts there.
    assert "{{" not in source
    assert str(tricky).count("{{") == 1
    assert script["env"][0] == {"name": "ARGO_WORKFLOW_NAME", "value": "{{workflow.name}}"}


def test_resources_and_labels_follow_the_task() -> None:
    case = CASES["limits"]
    script = build_manifest(case.spec, case.options, case.run)["spec"]["templates"][0]["script"]
    quantities = {"cpu": "1500m", "memory": "512Mi"}
    assert script["resources"] == {"requests": quantities, "limits": quantities}
    off = build_manifest(CASES["env_network_namespace"].spec, case.options)
    assert off["spec"]["podMetadata"]["labels"]["pyjobs/network"] == "off"
    assert (
        "resources"
        not in build_manifest(CASES["minimal"].spec, case.options)["spec"]["templates"][0]["script"]
    )
