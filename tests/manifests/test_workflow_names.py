"""Workflow names made locally, as Kubernetes makes them from `generateName`."""

from __future__ import annotations

import re
from collections import Counter

from pyjobs.manifests.common import GENERATE_NAME
from pyjobs.manifests.reading import generate_workflow_name

# Kubernetes' suffix alphabet: no vowels, no look-alikes (0, 1, 3).
SUFFIX = re.compile(r"[bcdfghjklmnpqrstvwxz2456789]{5}")


def test_names_are_the_prefix_and_five_characters_of_kubernetes_alphabet() -> None:
    for _ in range(200):
        name = generate_workflow_name()
        assert name.startswith(GENERATE_NAME)
        assert SUFFIX.fullmatch(name.removeprefix(GENERATE_NAME))
    assert generate_workflow_name("other-").startswith("other-")


def test_every_character_is_used_in_every_position() -> None:
    suffixes = [generate_workflow_name("") for _ in range(3000)]
    for position in range(5):
        seen = Counter(suffix[position] for suffix in suffixes)
        # 27 characters, ≈111 draws each: none missing, none far off (a lopsided spelling
        # of the random number would show here).
        assert len(seen) == 27
        assert min(seen.values()) > 50
