"""Argo's official Workflow JSON schema, made strict: unknown keys are errors."""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema

from tests.support.host import ARGO_SCHEMA

WORKFLOW = "io.argoproj.workflow.v1alpha1.Workflow"


def strict_definitions(definitions: dict[str, Any]) -> dict[str, Any]:
    """A copy of the definitions where unknown keys are errors."""
    # The file sets no additionalProperties anywhere, so a typo like `entrypoiint` would
    # pass; every object type with declared properties gets additionalProperties: false.
    strict = copy.deepcopy(definitions)
    for definition in strict.values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    return strict


@cache
def workflow_validator() -> jsonschema.Draft202012Validator:
    """A validator for Workflow manifests, built once."""
    schema = json.loads(ARGO_SCHEMA.read_text())
    return jsonschema.Draft202012Validator(
        {
            "$ref": f"#/definitions/{WORKFLOW}",
            "definitions": strict_definitions(schema["definitions"]),
        }
    )


def workflow_errors(manifest: dict[str, Any]) -> list[str]:
    """Every schema violation of a manifest, as 'path: message' lines."""
    errors = sorted(workflow_validator().iter_errors(manifest), key=lambda e: list(e.path))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
