"""Where this process's cgroups live on the host, and writing their control files.

Both cgroup versions are described the same way: a key per hierarchy (each v1
controller's name, or ``V2`` for the unified tree) mapped to its mount and to the group
this process is in, so callers can create sibling groups next to their own.
"""

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

V2 = ""  # key of the unified hierarchy in /proc/self/cgroup ("0::/path")

Mounts = dict[str, tuple[Path, str]]


def mounted_hierarchies() -> Mounts:
    """Map each v1 controller (and ``V2``) to its (mount point, mount root)."""
    found: Mounts = {}
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        pre, _, post = line.partition(" - ")
        fields, post_fields = pre.split(), post.split()
        if len(fields) < 5 or len(post_fields) < 3:
            continue
        root, mount_point, fstype = fields[3], fields[4], post_fields[0]
        if fstype == "cgroup2":
            found.setdefault(V2, (Path(mount_point), root))
        elif fstype == "cgroup":
            for opt in post_fields[2].split(","):
                found.setdefault(opt, (Path(mount_point), root))
    return found


def own_groups() -> dict[str, str]:
    """Map each v1 controller (and ``V2``) to this process's group path."""
    groups: dict[str, str] = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [V2]:
            groups[name] = path
    return groups


def group_dir(key: str, mounts: Mounts, own: dict[str, str]) -> Path | None:
    """Return the host directory of this process's group in hierarchy ``key``, if visible."""
    if key not in mounts or key not in own:
        return None
    mount_point, mount_root = mounts[key]
    rel = os.path.relpath(own[key], mount_root)
    if rel.startswith(".."):
        return None
    path = (mount_point / rel).resolve()
    return path if path.is_dir() else None


def write_control(path: Path, value: str) -> bool:
    """Write a cgroup control file; False when the kernel refuses (missing or unsupported)."""
    try:
        path.write_text(value)
    except OSError as exc:
        log.debug("cgroup write %s=%s failed: %s", path, value, exc)
        return False
    return True
