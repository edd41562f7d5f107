"""The Python kustomize subset renders what kustomize would, and refuses what it cannot."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from tests.deploy.kustomize import KustomizeError, build, content_hash, split_image


def _write(directory: Path, files: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        text = content if isinstance(content, str) else yaml.safe_dump(content)
        (directory / name).write_text(text, encoding="utf-8")
    return directory


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app", "namespace": "ns"},
    "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "template": {
            "metadata": {"labels": {"app": "x"}},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "app:1.0",
                        "envFrom": [{"configMapRef": {"name": "settings"}}],
                        "env": [
                            {
                                "name": "PASSWORD",
                                "valueFrom": {"secretKeyRef": {"name": "creds", "key": "p"}},
                            },
                            {
                                "name": "OTHER",
                                "valueFrom": {
                                    "secretKeyRef": {"name": "not-generated", "key": "k"}
                                },
                            },
                        ],
                    },
                    {"name": "sidecar", "image": "registry.example.com:5000/side:2"},
                ],
                "volumes": [{"name": "v", "configMap": {"name": "settings"}}],
            },
        },
    },
}


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        # The vectors of kustomize's own hasher tests (api/hasher/hasher_test.go).
        ({"kind": "ConfigMap", "data": {}}, "42745tchd9"),
        ({"kind": "ConfigMap", "data": {"one": ""}}, "9g67k2htb6"),
        ({"kind": "ConfigMap", "data": {"two": "2", "one": "", "three": "3"}}, "f5h7t85m9b"),
        ({"kind": "Secret", "type": "my-type", "data": {}}, "t75bgf6ctb"),
        ({"kind": "Secret", "type": "my-type", "data": {"one": ""}}, "74bd68bm66"),
        (
            {
                "kind": "Secret",
                "type": "my-type",
                "data": {"two": "Mg==", "one": "", "three": "Mw=="},
            },
            "dgcb6h9tmk",
        ),
    ],
)
def test_content_hash_matches_kustomize(manifest: dict[str, object], expected: str) -> None:
    assert content_hash(manifest) == expected


def test_split_image_tells_a_registry_port_from_a_tag() -> None:
    assert split_image("app") == ("app", None, None)
    assert split_image("app:1.0") == ("app", "1.0", None)
    assert split_image("registry.example.com:5000/team/app") == (
        "registry.example.com:5000/team/app",
        None,
        None,
    )
    assert split_image("r.example.com:5000/app:2@sha256:ab") == (
        "r.example.com:5000/app",
        "2",
        "sha256:ab",
    )


def _overlay(tmp_path: Path, overlay: dict[str, object], **files: str) -> Path:
    _write(
        tmp_path / "base",
        {
            "kustomization.yaml": {
                "resources": ["app.yaml"],
                "labels": [{"pairs": {"part-of": "demo"}}],
                "images": [{"name": "app", "newTag": "1.1"}],
                "configMapGenerator": [
                    {"name": "settings", "namespace": "ns", "literals": ["A=1", "B=2"]}
                ],
            },
            "app.yaml": DEPLOYMENT,
        },
    )
    return _write(tmp_path / "overlay", {"kustomization.yaml": overlay, **files})


def test_overlay_merges_generators_renames_references_and_sets_images(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path,
        {
            "resources": ["../base"],
            "images": [{"name": "app", "newName": "registry.example.com/app"}],
            "configMapGenerator": [
                {"name": "settings", "namespace": "ns", "behavior": "merge", "literals": ["B=3"]}
            ],
            "secretGenerator": [{"name": "creds", "namespace": "ns", "envs": ["creds.env"]}],
        },
        **{"creds.env": "# a comment\n\np=s3cret=with=equals\n"},
    )
    rendered = {(m["kind"], m["metadata"]["name"].rsplit("-", 1)[0]): m for m in build(overlay)}
    config = rendered[("ConfigMap", "settings")]
    secret = rendered[("Secret", "creds")]
    deployment = rendered[("Deployment", "app")]

    assert config["data"] == {"A": "1", "B": "3"}
    unhashed = config | {"metadata": {"name": "settings"}}
    assert config["metadata"]["name"] == f"settings-{content_hash(unhashed)}"
    assert base64.b64decode(secret["data"]["p"]).decode() == "s3cret=with=equals"
    assert secret["type"] == "Opaque"

    pod = deployment["spec"]["template"]["spec"]
    main, sidecar = pod["containers"]
    assert main["image"] == "registry.example.com/app:1.1"
    assert sidecar["image"] == "registry.example.com:5000/side:2"
    assert main["envFrom"][0]["configMapRef"]["name"] == config["metadata"]["name"]
    assert main["env"][0]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
    assert main["env"][1]["valueFrom"]["secretKeyRef"]["name"] == "not-generated"
    assert pod["volumes"][0]["configMap"]["name"] == config["metadata"]["name"]
    # The base's labels reach the base's objects, not the overlay's generated Secret.
    assert deployment["metadata"]["labels"] == {"part-of": "demo"}
    assert "labels" not in secret["metadata"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == {"app": "x"}


def test_a_digest_replaces_the_tag(tmp_path: Path) -> None:
    overlay = _overlay(
        tmp_path, {"resources": ["../base"], "images": [{"name": "app", "digest": "sha256:ab"}]}
    )
    deployment = next(m for m in build(overlay) if m["kind"] == "Deployment")
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "app@sha256:ab"


@pytest.mark.parametrize(
    ("overlay", "message"),
    [
        ({"resources": ["../base"], "namePrefix": "x-"}, "not implemented"),
        ({"resources": ["../base"], "patches": [{"path": "p.yaml"}]}, "not implemented"),
        ({"resources": ["../base", "missing.yaml"]}, "does not exist"),
        ({"resources": ["../base", "../base"]}, "defined twice"),
        (
            {"resources": ["../base"], "secretGenerator": [{"name": "s", "envs": ["nope.env"]}]},
            "does not exist",
        ),
        (
            {
                "resources": ["../base"],
                "configMapGenerator": [{"name": "other", "behavior": "merge"}],
            },
            "nothing generated to merge",
        ),
        (
            {"resources": ["../base"], "labels": [{"pairs": {"a": "b"}, "includeSelectors": True}]},
            "only pairs",
        ),
    ],
)
def test_unsupported_or_broken_kustomizations_are_refused(
    tmp_path: Path, overlay: dict[str, object], message: str
) -> None:
    with pytest.raises(KustomizeError, match=message):
        build(_overlay(tmp_path, overlay))
