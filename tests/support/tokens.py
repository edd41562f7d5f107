"""Token files as Kubernetes writes them into a projected volume."""

from __future__ import annotations

import os
from pathlib import Path


def project_token(directory: Path, token: str, generation: int) -> None:
    """Write `directory/token` the way the kubelet updates a projected volume.

    A new data directory, then one atomic rename of the `..data` symlink that `token`
    points through: a reader sees the old file or the new one, never half of either.
    """
    data = directory / f"..data-{generation}"
    data.mkdir()
    (data / "token").write_text(token + "\n", encoding="utf-8")
    link = directory / "..data.tmp"
    link.symlink_to(data.name)
    os.replace(link, directory / "..data")
    if not (directory / "token").is_symlink():
        (directory / "token").symlink_to("..data/token")
