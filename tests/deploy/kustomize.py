"""The subset of kustomize that deploy/ uses, in Python, for tests on a machine without it.

Implemented: `resources` (YAML files and directories holding a kustomization), `labels`
(metadata only), `images`, and `configMapGenerator` / `secretGenerator` (`literals`, `envs`,
`behavior`, a name suffix hashed from the content as kustomize computes it, and references
to generated names rewritten in pod specs). Any other field is refused with an error, so a
kustomization cannot silently use a feature whose output these tests would not see.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]

KUSTOMIZATION_FIELDS = frozenset(
    {
        "apiVersion",
        "kind",
        "resources",
        "labels",
        "images",
        "configMapGenerator",
        "secretGenerator",
    }
)
GENERATOR_FIELDS = frozenset({"name", "namespace", "behavior", "literals", "envs", "type"})
LABELS_FIELDS = frozenset({"pairs", "includeSelectors", "includeTemplates"})
IMAGE_FIELDS = frozenset({"name", "newName", "newTag", "digest"})
WORKLOADS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Job", "ReplicaSet"})


class KustomizeError(Exception):
    """A kustomization this renderer cannot (or kustomize would not) build."""


@dataclass
class Resource:
    """One object of the build, with what the last steps need to know about it."""

    manifest: Manifest
    generated: bool = False  # gets a content-hash suffix at the end of the build
    origin: str = ""  # the file or generator it came from, for error messages

    @property
    def key(self) -> tuple[str, str, str]:
        """Kind, namespace and name: what identifies an object in a build."""
        metadata = self.manifest.get("metadata", {})
        return (self.manifest["kind"], metadata.get("namespace", ""), metadata["name"])


@dataclass
class _Build:
    resources: list[Resource] = field(default_factory=list)

    def find(self, key: tuple[str, str, str]) -> Resource | None:
        return next((r for r in self.resources if r.key == key), None)

    def add(self, resource: Resource) -> None:
        if self.find(resource.key) is not None:
            raise KustomizeError(f"{resource.origin}: {resource.key} is defined twice")
        self.resources.append(resource)


def build(directory: Path) -> list[Manifest]:
    """Render the kustomization in `directory`, like `kustomize build DIRECTORY`."""
    result = _build(directory.resolve(), stack=())
    names = _hash_generated_names(result)
    for resource in result.resources:
        _rewrite_references(resource.manifest, names)
    return [r.manifest for r in result.resources]


def _build(directory: Path, stack: tuple[Path, ...]) -> _Build:
    if directory in stack:
        raise KustomizeError(f"{directory}: cycle of kustomizations")
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise KustomizeError(f"{directory}: no kustomization.yaml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(spec) - KUSTOMIZATION_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: fields not implemented here: {sorted(unknown)}")
    if spec.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{path}: kind must be Kustomization")

    result = _Build()
    for entry in spec.get("resources", []):
        for resource in _load_resources(directory, entry, (*stack, directory)):
            result.add(resource)
    for generator in spec.get("configMapGenerator", []):
        _generate(result, directory, generator, "ConfigMap")
    for generator in spec.get("secretGenerator", []):
        _generate(result, directory, generator, "Secret")
    for labels in spec.get("labels", []):
        _apply_labels(result, labels, path)
    for image in spec.get("images", []):
        _apply_image(result, image, path)
    return result


def _load_resources(directory: Path, entry: str, stack: tuple[Path, ...]) -> list[Resource]:
    target = (directory / entry).resolve()
    if target.is_dir():
        return _build(target, stack).resources
    if target.is_file():
        return [Resource(manifest, origin=str(target)) for manifest in _load_documents(target)]
    raise KustomizeError(f"{directory / 'kustomization.yaml'}: resource {entry!r} does not exist")


def _load_documents(path: Path) -> Iterator[Manifest]:
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document:
            raise KustomizeError(f"{path}: a document is not a Kubernetes object")
        yield document


# -- generators -------------------------------------------------------------------------


def _read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; blank lines and `#` comments skipped, as kustomize reads `envs`."""
    if not path.is_file():
        raise KustomizeError(f"env file {path} does not exist")
    values = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            # kustomize would read KEY from its own environment: not reproducible here.
            raise KustomizeError(f"{path}:{number}: expected KEY=VALUE")
        values[key.strip()] = value
    return values


def _generator_data(directory: Path, generator: dict[str, Any]) -> dict[str, str]:
    data: dict[str, str] = {}
    for env in generator.get("envs", []):
        data.update(_read_env_file(directory / env))
    for literal in generator.get("literals", []):
        key, sep, value = str(literal).partition("=")
        if not sep:
            raise KustomizeError(f"literal {literal!r} is not KEY=VALUE")
        data[key] = value
    return data


def _generate(result: _Build, directory: Path, generator: dict[str, Any], kind: str) -> None:
    unknown = set(generator) - GENERATOR_FIELDS
    if unknown:
        raise KustomizeError(f"{kind} generator: fields not implemented here: {sorted(unknown)}")
    name = generator["name"]
    metadata: dict[str, Any] = {"name": name}
    if "namespace" in generator:
        metadata["namespace"] = generator["namespace"]
    data = _generator_data(directory, generator)
    behavior = generator.get("behavior", "create")
    key = (kind, metadata.get("namespace", ""), name)
    existing = result.find(key)
    if behavior == "create":
        manifest: Manifest = {"apiVersion": "v1", "kind": kind, "metadata": metadata}
        if kind == "Secret":
            manifest["type"] = generator.get("type", "Opaque")
            manifest["data"] = {k: _b64(v) for k, v in data.items()}
        else:
            manifest["data"] = data
        result.add(Resource(manifest, generated=True, origin=f"{kind} generator {name}"))
        return
    if behavior not in {"merge", "replace"}:
        raise KustomizeError(f"{kind} generator {name}: unknown behavior {behavior!r}")
    if existing is None or not existing.generated:
        raise KustomizeError(f"{kind} generator {name}: nothing generated to {behavior}")
    encoded = {k: _b64(v) for k, v in data.items()} if kind == "Secret" else data
    if behavior == "replace":
        existing.manifest["data"] = encoded
    else:
        existing.manifest.setdefault("data", {}).update(encoded)


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def content_hash(manifest: Manifest) -> str:
    """kustomize's name suffix for a generated ConfigMap or Secret (its api/hasher)."""
    kind = manifest["kind"]
    name = manifest.get("metadata", {}).get("name", "")
    encoded: dict[str, Any] = {"kind": kind, "name": name, "data": manifest.get("data", {})}
    if kind == "Secret":
        encoded["type"] = manifest.get("type", "")
    elif kind != "ConfigMap":
        raise KustomizeError(f"no content hash for kind {kind}")
    # Go's json.Marshal: keys sorted, no spaces, <, > and & escaped, other text as UTF-8.
    text = json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # Vowel-like hex digits become consonants, so no word can form in a name.
    return digest[:10].translate(str.maketrans("013ae", "ghkmt"))


def _hash_generated_names(result: _Build) -> dict[tuple[str, str, str], str]:
    names = {}
    for resource in result.resources:
        if resource.generated:
            kind, namespace, name = resource.key
            hashed = f"{name}-{content_hash(resource.manifest)}"
            resource.manifest["metadata"]["name"] = hashed
            names[(kind, namespace, name)] = hashed
    return names


# -- transformers -----------------------------------------------------------------------


def _apply_labels(result: _Build, labels: dict[str, Any], path: Path) -> None:
    unknown = set(labels) - LABELS_FIELDS
    if unknown or labels.get("includeSelectors"):
        raise KustomizeError(f"{path}: labels: only pairs and includeTemplates are implemented")
    pairs = {str(k): str(v) for k, v in labels.get("pairs", {}).items()}
    for resource in result.resources:
        resource.manifest.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)
        template = _pod_template(resource.manifest)
        if labels.get("includeTemplates") and template is not None:
            template.setdefault("metadata", {}).setdefault("labels", {}).update(pairs)


def _pod_template(manifest: Manifest) -> dict[str, Any] | None:
    if manifest["kind"] in WORKLOADS:
        template: dict[str, Any] = manifest["spec"]["template"]
        return template
    return None


def pod_specs(manifest: Manifest) -> Iterator[dict[str, Any]]:
    """The pod spec of a Pod or of a workload's template (none for other kinds)."""
    if manifest["kind"] == "Pod":
        yield manifest["spec"]
    template = _pod_template(manifest)
    if template is not None:
        yield template["spec"]


def containers(manifest: Manifest) -> Iterator[dict[str, Any]]:
    """Every container and init container of the object's pods."""
    for spec in pod_specs(manifest):
        yield from spec.get("initContainers", [])
        yield from spec.get("containers", [])


def split_image(reference: str) -> tuple[str, str | None, str | None]:
    """`name[:tag][@digest]` as (name, tag, digest); a registry port is not a tag."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest or None
    return rest, None, digest or None


def _apply_image(result: _Build, image: dict[str, Any], path: Path) -> None:
    unknown = set(image) - IMAGE_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: images: fields not implemented here: {sorted(unknown)}")
    for resource in result.resources:
        for container in containers(resource.manifest):
            name, tag, digest = split_image(container["image"])
            if name != image["name"]:
                continue
            name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{name}@{image['digest']}"
                continue
            tag = str(image["newTag"]) if "newTag" in image else tag
            reference = name + (f":{tag}" if tag else "")
            container["image"] = reference + (f"@{digest}" if digest else "")


def _rewrite_references(manifest: Manifest, names: dict[tuple[str, str, str], str]) -> None:
    """Point pod specs at the hashed names of generated ConfigMaps and Secrets."""
    namespace = manifest.get("metadata", {}).get("namespace", "")

    def renamed(kind: str, name: str) -> str:
        return names.get((kind, namespace, name), name)

    for spec in pod_specs(manifest):
        for container in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            for source in container.get("envFrom", []):
                if "configMapRef" in source:
                    ref = source["configMapRef"]
                    ref["name"] = renamed("ConfigMap", ref["name"])
                if "secretRef" in source:
                    ref = source["secretRef"]
                    ref["name"] = renamed("Secret", ref["name"])
            for variable in container.get("env", []):
                value_from = variable.get("valueFrom", {})
                if "configMapKeyRef" in value_from:
                    ref = value_from["configMapKeyRef"]
                    ref["name"] = renamed("ConfigMap", ref["name"])
                if "secretKeyRef" in value_from:
                    ref = value_from["secretKeyRef"]
                    ref["name"] = renamed("Secret", ref["name"])
        for volume in spec.get("volumes", []):
            if "configMap" in volume:
                volume["configMap"]["name"] = renamed("ConfigMap", volume["configMap"]["name"])
            if "secret" in volume:
                secret = volume["secret"]
                secret["secretName"] = renamed("Secret", secret["secretName"])


def to_yaml(manifests: list[Manifest]) -> str:
    """The objects as one multi-document YAML stream."""
    return yaml.safe_dump_all(copy.deepcopy(manifests), sort_keys=False)
