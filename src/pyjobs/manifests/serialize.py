"""Workflow dict → YAML text, in one canonical form whichever builder made the dict."""

from __future__ import annotations

from typing import Any

import yaml

# Kubernetes' customary order first; every other key sorted, so equal dicts give equal text.
_FIRST_KEYS = ("apiVersion", "kind", "metadata", "spec", "name", "generateName", "namespace")


def _ordered(node: Any) -> Any:
    if isinstance(node, dict):
        first = [k for k in _FIRST_KEYS if k in node]
        rest = sorted(k for k in node if k not in _FIRST_KEYS)
        return {k: _ordered(node[k]) for k in [*first, *rest]}
    if isinstance(node, list):
        return [_ordered(item) for item in node]
    return node


class _Dumper(yaml.SafeDumper):
    """Safe dumper that writes multi-line strings (the script) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def render_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML, keys in canonical order, scripts as literal blocks."""
    return yaml.dump(
        _ordered(manifest),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=100,
    )
