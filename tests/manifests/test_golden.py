"""The two builders make the same workflow, pinned by golden files.

Regenerate the files after an intended change with `PYJOBS_UPDATE_GOLDEN=1 make unit`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from pyjobs.manifests import Builder, build_manifest, render_yaml
from tests.manifests.cases import CASES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PYJOBS_UPDATE_GOLDEN") == "1"


@pytest.mark.parametrize("name", list(CASES))
def test_hera_and_template_builders_agree(name: str) -> None:
    case = CASES[name]
    hera = build_manifest(case.spec, case.options, case.run, Builder.HERA)
    template = build_manifest(case.spec, case.options, case.run, Builder.TEMPLATE)
    assert hera == template
    assert render_yaml(hera) == render_yaml(template)


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.golden])
def test_rendered_yaml_matches_golden_file(name: str) -> None:
    case = CASES[name]
    text = render_yaml(build_manifest(case.spec, case.options, case.run))
    path = GOLDEN / f"{name}.yaml"
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path.name}; run with PYJOBS_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name", list(CASES))
def test_yaml_round_trips_to_the_same_workflow(name: str) -> None:
    case = CASES[name]
    manifest = build_manifest(case.spec, case.options, case.run)
    assert yaml.safe_load(render_yaml(manifest)) == manifest


def test_no_golden_file_is_stale() -> None:
    expected = {f"{n}.yaml" for n, c in CASES.items() if c.golden}
    assert {p.name for p in GOLDEN.glob("*.yaml")} == expected
