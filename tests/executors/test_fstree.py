from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyjobs.executors.fstree import remove_tree, seal_tree

NOBODY = 65534


def test_seal_tree_counts_hard_links_once_and_symlinks_as_links(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "data").write_bytes(b"x" * 256 * 1024)
    alone = seal_tree(tree)
    os.link(tree / "data", tree / "again")
    (tree / "link").symlink_to(tree / "data")
    assert alone >= 256 * 1024
    assert alone <= seal_tree(tree) < alone + 64 * 1024


def test_seal_tree_rejects_a_symlink_as_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(NotADirectoryError):
        seal_tree(tmp_path / "link")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory that an unprivileged uid can reach (pytest's tmp_path is root's only)."""
    path = Path(tempfile.mkdtemp(prefix="pyjobs-fstree-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def test_remove_tree_gets_through_dirs_without_owner_write_or_search_bits(
    shared_dir: Path,
) -> None:
    tree = shared_dir / "tree"
    (tree / "ro" / "inner").mkdir(parents=True)
    (tree / "ro" / "inner" / "file").touch()
    (tree / "locked").mkdir()
    (tree / "locked" / "file").touch()
    (tree / "ro" / "inner").chmod(0o555)
    (tree / "ro").chmod(0o500)
    (tree / "locked").chmod(0)
    if os.geteuid() == 0:
        # Root ignores permission bits: only another uid shows the problem.
        for path in (shared_dir, *shared_dir.rglob("*")):
            os.lchown(path, NOBODY, NOBODY)
        drop = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        code = "import pathlib, sys; from pyjobs.executors.fstree import remove_tree\n"
        code += "remove_tree(pathlib.Path(sys.argv[1]))"
        subprocess.run([*drop, sys.executable, "-c", code, str(tree)], check=True)
    else:
        remove_tree(tree)
    assert not tree.exists()
    assert stat.S_IMODE(shared_dir.stat().st_mode) == 0o755  # nothing above the tree touched
