"""TaskSpec → Argo Workflow, by Hera or by the YAML template; pure functions, no I/O."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pyjobs.manifests import hera, template
from pyjobs.manifests.options import ManifestOptions, RunRef
from pyjobs.manifests.serialize import render_yaml
from pyjobs.spec import TaskSpec

__all__ = ["Builder", "ManifestOptions", "RunRef", "build_manifest", "render_yaml"]


class Builder(StrEnum):
    """Which of the two equivalent builders makes the workflow."""

    HERA = "hera"
    TEMPLATE = "template"

    @classmethod
    def from_flag(cls, use_hera_sdk: bool) -> Builder:
        """The builder `USE_HERA_SDK` selects."""
        return cls.HERA if use_hera_sdk else cls.TEMPLATE


def build_manifest(
    spec: TaskSpec,
    options: ManifestOptions,
    run: RunRef | None = None,
    builder: Builder = Builder.HERA,
) -> dict[str, Any]:
    """The Argo Workflow of a task (run) as a plain dict."""
    build = hera.build_workflow if builder is Builder.HERA else template.build_workflow
    return build(spec, options, run)
