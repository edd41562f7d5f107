from __future__ import annotations

import json
import os
import platform
import signal
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pyjobs.errors import EnvInUseError
from pyjobs.executors.envcache import EnvCache, EnvHandle, EnvKey
from tests.executors.envcache_worker import KEY as WORKER_KEY

REPO = Path(__file__).resolve().parents[2]


def key(*requirements: str) -> EnvKey:
    return EnvKey(python_version="3.11.7", requirements=requirements, platform="linux-x86_64")


def writer(size: int, calls: list[Path] | None = None) -> Callable[[Path], None]:
    """A build that writes one file of `size` bytes and records where it was asked to build."""

    def build(env: Path) -> None:
        if calls is not None:
            calls.append(env)
        (env / "data").write_bytes(b"x" * size)

    return build


def use(cache: EnvCache, env_key: EnvKey, build: Callable[[Path], None]) -> None:
    with cache.acquire(env_key, build):
        pass


def listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory))


def worker(mode: str, root: Path, file: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.executors.envcache_worker", mode, str(root), str(file)],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


def wait_for(path: Path, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


# --- keys -----------------------------------------------------------------------------------


def test_digest_is_pinned_so_a_change_in_encoding_is_noticed() -> None:
    env_key = EnvKey(
        python_version="3.11.7",
        requirements=("six==1.16.0", "attrs>=23"),
        requirements_text="six==1.16.0 --hash=sha256:abc\n",
        platform="linux-x86_64",
    )
    assert env_key.digest == "4dd62f61bf46facebab78c1d364318caf2a7066a6b696aa96ff7daf96f289dda"


def test_digest_ignores_order_and_duplicates() -> None:
    assert key("b", "a", "a").digest == key("a", "b").digest
    assert key("b", "a", "a") == key("a", "b")
    assert key("b", "a").requirements == ("a", "b")


@pytest.mark.parametrize(
    "other",
    [
        EnvKey("3.11.8", ("a",), platform="linux-x86_64"),
        EnvKey("3.11.7", ("a", "b"), platform="linux-x86_64"),
        EnvKey("3.11.7", ("a",), requirements_text="a\n", platform="linux-x86_64"),
        EnvKey("3.11.7", ("a",), platform="linux-aarch64"),
        # No concatenation ambiguity: fields are JSON-encoded, not joined.
        EnvKey("3.11.7", ("a,b",), platform="linux-x86_64"),
    ],
)
def test_every_field_changes_the_digest(other: EnvKey) -> None:
    assert other.digest != key("a").digest


# --- build, hit, failure ----------------------------------------------------------------------


def test_builds_once_then_hits(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "cache", max_bytes=0)
    calls: list[Path] = []
    with cache.acquire(key("a"), writer(10, calls)) as first:
        assert not first.hit
        assert first.build_seconds > 0
        assert (first.path / "data").read_bytes() == b"x" * 10
    with cache.acquire(key("a"), writer(10, calls)) as second:
        assert second.hit
        assert second.build_seconds == 0.0
        assert second.path == first.path
    assert len(calls) == 1
    # The build ran in the staging area of the same cache (so the publishing rename is atomic).
    assert calls[0].parent.parent == tmp_path / "cache" / "staging"
    assert first.path == tmp_path / "cache" / "envs" / key("a").digest / "env"
    assert listing(tmp_path / "cache" / "staging") == []


def test_metadata_is_published_with_the_env(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    with cache.acquire(key("a"), writer(100_000)) as handle:
        pass
    meta = json.loads((handle.path.parent / "meta.json").read_text())
    assert meta["key"]["requirements"] == ["a"]
    assert meta["digest"] == key("a").digest
    [entry] = cache.entries()
    assert entry.digest == key("a").digest
    assert entry.key == key("a")
    assert entry.path == handle.path
    assert entry.size_bytes == meta["size_bytes"] >= 100_000
    assert entry.last_used == pytest.approx(time.time(), abs=60)


def test_failing_build_publishes_nothing_and_the_next_acquire_retries(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)

    def broken(env: Path) -> None:
        (env / "half").write_text("half")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"), cache.acquire(key("a"), broken):
        pytest.fail("a failed build must not enter the context")
    assert listing(tmp_path / "envs") == []
    assert listing(tmp_path / "staging") == []
    calls: list[Path] = []
    with cache.acquire(key("a"), writer(1, calls)) as handle:
        assert not handle.hit
        assert not (handle.path / "half").exists()
    assert len(calls) == 1


def test_published_tree_loses_group_and_other_write_bits(tmp_path: Path) -> None:
    def build(env: Path) -> None:
        (env / "sub").mkdir()
        (env / "sub").chmod(0o777)
        (env / "sub" / "script").write_text("#")
        (env / "sub" / "script").chmod(0o766)
        (env / "private").write_text("#")
        (env / "private").chmod(0o600)

    with EnvCache(tmp_path, max_bytes=0).acquire(key("a"), build) as handle:
        names = ("sub", "sub/script", "private", ".")
        mode = {name: stat.S_IMODE(os.lstat(handle.path / name).st_mode) for name in names}
    assert mode == {"sub": 0o755, "sub/script": 0o744, "private": 0o600, ".": 0o755}


# --- concurrency ------------------------------------------------------------------------------


def test_two_threads_build_one_key_once(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    calls: list[Path] = []
    start = threading.Barrier(2)
    handles: list[EnvHandle] = []

    def slow_build(env: Path) -> None:
        calls.append(env)
        time.sleep(0.3)
        (env / "ok").write_text("ok")

    def run() -> None:
        start.wait()
        with cache.acquire(key("a"), slow_build) as handle:
            assert (handle.path / "ok").read_text() == "ok"
            handles.append(handle)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(calls) == 1
    assert sorted(handle.hit for handle in handles) == [False, True]
    assert handles[0].path == handles[1].path


def test_different_keys_build_in_parallel(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    started = {"a": threading.Event(), "b": threading.Event()}
    overlapped: dict[str, bool] = {}

    def build_for(name: str, other: str) -> Callable[[Path], None]:
        def build(env: Path) -> None:
            started[name].set()
            # If builds of different keys were serialised, this would time out.
            overlapped[name] = started[other].wait(timeout=10)

        return build

    threads = [
        threading.Thread(target=use, args=(cache, key("a"), build_for("a", "b"))),
        threading.Thread(target=use, args=(cache, key("b"), build_for("b", "a"))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert overlapped == {"a": True, "b": True}


def test_two_processes_build_one_key_once(tmp_path: Path) -> None:
    counter = tmp_path / "builds"
    procs = [worker("acquire", tmp_path / "cache", counter) for _ in range(2)]
    for proc in procs:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
    for proc in procs:  # release both at once so that they really race
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0
        results.append(json.loads(out))
    assert len(counter.read_text().splitlines()) == 1
    assert sorted(result["hit"] for result in results) == [False, True]
    assert results[0]["path"] == results[1]["path"]
    assert Path(results[0]["path"], "ok").read_text() == "ok"


def test_build_killed_midway_is_cleaned_by_the_next_instance(tmp_path: Path) -> None:
    root = tmp_path / "cache"
    proc = worker("hang", root, tmp_path / "started")
    try:
        wait_for(tmp_path / "started")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert len(listing(root / "staging")) == 1
    assert listing(root / "envs") == []

    cache = EnvCache(root, max_bytes=0)
    assert listing(root / "staging") == []
    assert listing(root / "trash") == []
    with cache.acquire(WORKER_KEY, writer(1)) as handle:
        assert not handle.hit
        assert not (handle.path / "partial").exists()


def test_evict_also_cleans_builds_that_crashed_after_start(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path / "cache", max_bytes=0)
    proc = worker("hang", tmp_path / "cache", tmp_path / "started")
    try:
        wait_for(tmp_path / "started")
        assert cache.evict() == []
        assert len(listing(tmp_path / "cache" / "staging")) == 1  # still building: kept
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    assert cache.evict() == []
    assert listing(tmp_path / "cache" / "staging") == []


def test_a_build_in_progress_is_not_cleaned_by_a_new_instance(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    building, finish = threading.Event(), threading.Event()

    def blocked_build(env: Path) -> None:
        building.set()
        assert finish.wait(timeout=30)
        (env / "ok").write_text("ok")

    thread = threading.Thread(target=use, args=(cache, key("a"), blocked_build))
    thread.start()
    try:
        assert building.wait(timeout=30)
        EnvCache(tmp_path, max_bytes=0)
        assert len(listing(tmp_path / "staging")) == 1
    finally:
        finish.set()
        thread.join(timeout=30)
    assert listing(tmp_path / "staging") == []
    assert (tmp_path / "envs" / key("a").digest / "env" / "ok").read_text() == "ok"


# --- eviction and removal ---------------------------------------------------------------------


def test_eviction_removes_least_recently_used_first(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    a, b, c = key("a"), key("b"), key("c")
    with cache.acquire(a, writer(64 * 1024)):
        pass
    one = cache.entries()[0].size_bytes
    cache.max_bytes = 2 * one + one // 2
    with cache.acquire(b, writer(64 * 1024)):
        pass
    with cache.acquire(a, writer(64 * 1024)) as again:
        assert again.hit  # and now a is more recently used than b
    with cache.acquire(c, writer(64 * 1024)):
        pass  # three envs do not fit: publishing c evicted b
    assert {entry.digest for entry in cache.entries()} == {a.digest, c.digest}
    assert listing(tmp_path / "trash") == []

    cache.max_bytes = one + one // 2
    assert cache.evict() == [a.digest]
    assert cache.evict() == []
    cache.max_bytes = 0
    with cache.acquire(b, writer(64 * 1024)) as rebuilt:
        assert not rebuilt.hit


def test_env_in_use_is_never_evicted(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=1)
    with cache.acquire(key("a"), writer(10_000)) as a:
        with cache.acquire(key("b"), writer(10_000)) as b:
            # Publishing b evicted neither: a is in use, and so is b.
            assert len(cache.entries()) == 2
            assert cache.evict() == []
        assert cache.evict() == [key("b").digest]
        assert not b.path.exists()
        assert (a.path / "data").exists()
    assert cache.evict() == [key("a").digest]
    assert cache.entries() == []


def test_env_in_use_through_a_hit_is_never_evicted(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    use(cache, key("a"), writer(10_000))
    cache.max_bytes = 1
    with cache.acquire(key("a"), writer(10_000)) as handle:
        assert handle.hit
        assert cache.evict() == []
        with pytest.raises(EnvInUseError):
            cache.remove(key("a").digest)
    assert cache.evict() == [key("a").digest]


def test_remove(tmp_path: Path) -> None:
    cache = EnvCache(tmp_path, max_bytes=0)
    with cache.acquire(key("a"), writer(1)) as handle:
        with pytest.raises(EnvInUseError) as error:
            cache.remove(key("a").digest)
        assert error.value.digest == key("a").digest
    assert cache.remove(key("a").digest)
    assert not handle.path.exists()
    assert not cache.remove(key("a").digest)
    assert not cache.remove("../../etc")
    assert cache.entries() == []


def test_symlinks_planted_in_an_env_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "dir" / "keep").write_text("keep")
    (outside / "big").write_bytes(b"x" * 1024 * 1024)
    (outside / "big").chmod(0o666)

    def hostile(env: Path) -> None:
        (env / "file-link").symlink_to(outside / "big")
        (env / "dir-link").symlink_to(outside / "dir")
        (env / "sub").mkdir()
        (env / "sub" / "up").symlink_to("../../../../outside")

    cache = EnvCache(tmp_path / "cache", max_bytes=0)
    with cache.acquire(key("a"), hostile):
        pass
    [entry] = cache.entries()
    assert entry.size_bytes < 1024 * 1024  # the 1 MiB file behind the link is not counted
    assert stat.S_IMODE((outside / "big").stat().st_mode) == 0o666  # nor chmod-ed

    assert cache.remove(entry.digest)
    assert (outside / "big").read_bytes() == b"x" * 1024 * 1024
    assert (outside / "dir" / "keep").read_text() == "keep"
    assert listing(tmp_path / "cache" / "trash") == []


# --- a real environment -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def uv_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("uv-cache")


@pytest.mark.network
def test_real_uv_env_survives_publishing(tmp_path: Path, uv_cache_dir: Path) -> None:
    uv = Path(sys.executable).parent / "uv"
    env_vars = {**os.environ, "UV_CACHE_DIR": str(uv_cache_dir)}
    env_vars.pop("VIRTUAL_ENV", None)

    def build(env: Path) -> None:
        subprocess.run(
            [uv, "venv", "--quiet", "--python", sys.executable, env], check=True, env=env_vars
        )
        python = env / "bin" / "python"
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", python, "six"],
            check=True,
            env=env_vars,
        )

    real_key = EnvKey(platform.python_version(), ("six",))
    cache = EnvCache(tmp_path, max_bytes=0)
    with cache.acquire(real_key, build) as handle:
        # The venv was built in staging/ and renamed: bin/python is a symlink to the base
        # interpreter and finds pyvenv.cfg and site-packages relative to itself, so it still
        # works. Console scripts would not (their shebangs name the staging path); the local
        # executor builds at a fixed mount point in its sandbox for that reason.
        found = subprocess.run(
            [handle.path / "bin" / "python", "-c", "import six, sys; print(six.__file__)"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    assert Path(found).is_relative_to(handle.path)
