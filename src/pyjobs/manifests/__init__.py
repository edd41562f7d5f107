"""TaskSpec → Argo Workflow, by Hera or by the YAML template; pure functions, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pyjobs.config import Settings
from pyjobs.manifests import hera, template
from pyjobs.manifests.options import ManifestOptions, RunRef
from pyjobs.manifests.serialize import render_yaml
from pyjobs.spec import TaskSpec

__all__ = [
    "Builder",
    "ManifestOptions",
    "RunRef",
    "WorkflowFactory",
    "build_manifest",
    "render_yaml",
]


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


@dataclass(frozen=True)
class WorkflowFactory:
    """A deployment's way of building workflows: its options and its builder, bound once."""

    options: ManifestOptions
    builder: Builder = Builder.HERA

    @classmethod
    def from_settings(cls, settings: Settings) -> WorkflowFactory:
        """The options and builder configured through the environment."""
        options = ManifestOptions.from_settings(settings)
        return cls(options, Builder.from_flag(settings.use_hera_sdk))

    def build(self, spec: TaskSpec, run: RunRef | None = None) -> dict[str, Any]:
        """The Argo Workflow of a task (run) as a plain dict."""
        return build_manifest(spec, self.options, run, self.builder)
