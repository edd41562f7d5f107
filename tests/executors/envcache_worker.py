"""A separate process that uses the env cache, driven by test_envcache.

Usage: python -m tests.executors.envcache_worker (acquire|hang) ROOT FILE
  acquire: print "ready", wait for a line on stdin, acquire KEY with a slow build that appends
           its pid to FILE, print {"path", "hit"} as JSON.
  hang:    acquire KEY with a build that writes a partial env, creates FILE, then sleeps
           until killed.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from pyjobs.executors.envcache import EnvCache, EnvKey

KEY = EnvKey(python_version="3.11.7", requirements=("six==1.16.0",))


def main(argv: list[str]) -> int:
    mode, root, file = argv[1], Path(argv[2]), Path(argv[3])
    cache = EnvCache(root, max_bytes=0)
    if mode == "acquire":
        print("ready", flush=True)
        sys.stdin.readline()

        def slow_build(env: Path) -> None:
            with file.open("a") as out:
                out.write(f"{os.getpid()}\n")
            time.sleep(0.5)
            (env / "ok").write_text("ok")

        with cache.acquire(KEY, slow_build) as handle:
            print(json.dumps({"path": str(handle.path), "hit": handle.hit}), flush=True)
        return 0

    def endless_build(env: Path) -> None:
        (env / "partial").write_bytes(b"x" * 10_000)
        file.touch()
        time.sleep(600)

    with cache.acquire(KEY, endless_build):
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
