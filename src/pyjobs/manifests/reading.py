"""Read back what a workflow runs: its script template, with Argo's variables filled in."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyjobs.manifests.common import GENERATE_NAME, WORKFLOW_NAME_VARIABLE

# Kubernetes' generateName suffix: 5 characters from an alphabet without vowels or
# look-alikes, so names never spell words.
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_SUFFIX_LENGTH = 5
_SUFFIXES = len(_SUFFIX_ALPHABET) ** _SUFFIX_LENGTH


def generate_workflow_name(prefix: str = GENERATE_NAME) -> str:
    """A name as the Kubernetes API server would make it from `generateName`."""
    # One draw from the OS's random source for the whole suffix (one per character was
    # five system calls), spelled in base 27: every suffix equally likely.
    number = secrets.randbelow(_SUFFIXES)
    suffix = []
    for _ in range(_SUFFIX_LENGTH):
        number, digit = divmod(number, len(_SUFFIX_ALPHABET))
        suffix.append(_SUFFIX_ALPHABET[digit])
    return prefix + "".join(suffix)


@dataclass(frozen=True)
class ScriptTemplate:
    """The parts of a script template that decide what runs, as Argo would run them."""

    source: str
    command: tuple[str, ...]
    env: Mapping[str, str]
    working_dir: str

    @classmethod
    def from_manifest(cls, manifest: Mapping[str, Any], workflow_name: str) -> ScriptTemplate:
        """The entrypoint's script template, `{{workflow.name}}` replaced by the real name."""
        spec = manifest["spec"]
        templates = {t["name"]: t for t in spec["templates"]}
        script = templates[spec["entrypoint"]]["script"]
        env = {
            item["name"]: item.get("value", "").replace(WORKFLOW_NAME_VARIABLE, workflow_name)
            for item in script.get("env", [])
        }
        return cls(
            source=script["source"],
            command=tuple(script.get("command", ["bash"])),
            env=env,
            working_dir=script.get("workingDir", "/work"),
        )
