"""The one resolver of where benchmark data comes from (`--data-dir` / $FGIT_BENCH_DATA, then ../shared/data, then
upstream's download) and the one cache root (`--cache-dir` / $FGIT_BENCH_CACHE, else ~/.cache/fgit-bench) under
which every cache lives (artifacts, variants, training-data, generations, verdicts, groundtruth, data, envs).

The CLI turns both flags into the environment variables for the whole process, so every stage (and every child
process) sees the same directories."""

from __future__ import annotations

import contextlib
import gzip
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from harness.core.atomic import file_mode
from harness.core.errors import BadInput

ENV_DATA_DIR = "FGIT_BENCH_DATA"
ENV_CACHE_DIR = "FGIT_BENCH_CACHE"
_REPO_ROOT = Path(__file__).resolve().parents[2]


def cache_root(explicit: str | os.PathLike | None = None) -> Path:
    """Root of fgit-bench's on-disk caches (`explicit`, else $FGIT_BENCH_CACHE, else ~/.cache/fgit-bench)."""
    root = explicit or os.environ.get(ENV_CACHE_DIR) or os.path.join(os.path.expanduser("~"), ".cache", "fgit-bench")
    return Path(root).expanduser()


@contextlib.contextmanager
def directories(cache_dir: str | None, data_dir_ref: str | None) -> Iterator[None]:
    """`--cache-dir` / `--data-dir` as the process's (and its children's) directories while a command runs; a
    missing data directory is bad input. Restored afterwards (the CLI can run in-process)."""
    saved = {k: os.environ.get(k) for k in (ENV_DATA_DIR, ENV_CACHE_DIR)}
    try:
        if data_dir_ref:
            os.environ[ENV_DATA_DIR] = str(data_dir(data_dir_ref).resolve())
        if cache_dir:
            os.environ[ENV_CACHE_DIR] = str(Path(cache_dir).expanduser().resolve())
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def data_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The directory holding release files, or None to let the upstream loaders download."""
    chosen = explicit or os.environ.get(ENV_DATA_DIR)
    if chosen:
        path = Path(chosen)
        if not path.is_dir():
            raise BadInput(f"data directory not found: {path}")
        return path
    for candidate in (Path.cwd() / ".." / "shared" / "data", _REPO_ROOT.parent / "shared" / "data"):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def find_release_file(directory: Path | None, names: list[str]) -> Path | None:
    """The first of `names` present in `directory`; a `.gz` is decompressed once into the cache, because the
    dataset hash evalplus reports is the md5 of the decompressed file."""
    if directory is None:
        return None
    for name in names:
        path = directory / name
        if path.is_file():
            return decompressed(path) if path.suffix == ".gz" else path
    return None


def decompressed(path: Path) -> Path:
    target = cache_root() / "data" / path.name[: -len(".gz")]
    if target.is_file() and target.stat().st_mtime >= path.stat().st_mtime:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with gzip.open(path, "rb") as src, open(tmp, "wb") as dst:
            shutil.copyfileobj(src, dst)
        os.chmod(tmp, file_mode())
        os.replace(tmp, target)
    except BaseException as exc:  # a full disk included: never leave a disk-sized temp file behind
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.filename is None:
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        raise
    return target
