"""Content-addressed cache of training artifacts: a re-run with the same inputs never retrains.

Key = sha256 of (base model content hash, training-data hash, plugin name, plugin config, artifact format, and
what the plugin resolved at run time: models actually used with their hashes, the variant set's hash).
Layout under the cache root ($FGIT_BENCH_CACHE, default ~/.cache/fgit-bench):

    artifacts/<key>/            finished artifact (artifact.json + model/ or adapter/ + train_log.jsonl ...)
    artifacts/<key>.partial/    the run in progress; trainer checkpoints there let a killed run resume
    artifacts/<key>.lock        held while one process trains that key
    artifacts/<key>/cache_entry.json   the envelope (harness/core/cache_entry.py): key + size and sha256 of every file;
                                a lookup that does not verify is a miss, the damaged directory is moved aside

A finished artifact appears by one `rename`, so a crash never leaves a half artifact under `<key>/`.
`--output DIR` receives the artifact as a directory of hard links to the cached files (a copy where the
filesystem refuses links): a self-contained directory that costs no extra space and survives `rm -r` of the cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from harness.core import cache_entry
from harness.core.atomic import write_json
from harness.core.config import to_dict
from harness.core.data import cache_root  # the one cache root (callers import it from here too)
from harness.core.errors import BadInput
from harness.core.hashing import json_digest
from harness.models import ARTIFACT_MANIFEST, ModelSpec
from plugins.api import PLUGINS, TrainingExample

ARTIFACT_FORMAT = 1  # bump when the artifact layout or the training semantics change: old entries stop matching




def examples_digest(examples: list[TrainingExample]) -> str:
    """Hash of what training reads from the examples (meta is provenance, not input)."""
    return json_digest([[e.instruction, e.response, e.code, e.incorrect] + ([e.meta["task"]] if "task" in e.meta else [])
                        for e in examples])  # a task's tests train GRPO: a changed test is a different input


# plugin config fields that change no weight: where training curves are reported (report_to), where grpo's
# reward checks run (executor, ray_address)
UNKEYED = ("report_to", "executor", "ray_address")


def _keyed(config: dict) -> dict:
    return {k: v for k, v in config.items() if k not in UNKEYED}


def artifact_key(plugin: str, model: ModelSpec, examples: list[TrainingExample], config: Any,
                 resolved: dict | None = None) -> str:
    """`resolved`: what the plugin's `resolve`/`prepare` found (models used and their hashes, the variant set);
    left out when empty, so plugins without any keep their keys."""
    settings = to_dict(config) if config is not None else None
    if isinstance(settings, dict):
        settings = _keyed(settings)
    fields = {"model": model.content_hash(), "data": examples_digest(examples), "plugin": plugin,
              "config": settings, "format": ARTIFACT_FORMAT}
    if resolved:
        fields["resolved"] = resolved
    return json_digest(fields)


def _is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0  # torchrun / accelerate launch set RANK on every process


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


ENTRY_FILE = cache_entry.DIR_ENTRY


def seal(directory: Path, key: str) -> None:
    cache_entry.seal_dir(directory, key)


def verify(directory: Path, key: str) -> bool:
    """The artifact's files are exactly those its envelope recorded under `key`, byte for byte."""
    return cache_entry.verify_dir(directory, key, "artifact", required=ARTIFACT_MANIFEST)


def lookup(key: str, root: Path, discard_damaged: bool = False) -> Path | None:
    """The finished artifact of `key`, verified; a damaged one is a miss (and moved away when asked: the caller
    holds the key's lock and retrains it)."""
    final = root / "artifacts" / key
    if not final.is_dir():
        return None
    if verify(final, key):
        return final
    if discard_damaged:
        aside = final.with_name(f"{key}.damaged-{os.getpid()}")
        os.rename(final, aside)
        shutil.rmtree(aside, ignore_errors=True)
    return None


def train_cached(plugin_name: str, model: ModelSpec, examples: list[TrainingExample], config: Any, *,
                 output: str | Path | None = None, cache_dir: str | Path | None = None,
                 extra_files: dict[str, Any] | None = None,
                 on_cached: Callable[[Path], None] | None = None,
                 upstream: str | None = None) -> tuple[Path, bool]:
    """Return (artifact directory, whether it came from the cache); train with the plugin on a miss.

    `extra_files` (name → JSON data) are written into the artifact before it is published, e.g. the
    decontamination report. Nothing here loads the model on a hit.
    """
    plugin = PLUGINS.get(plugin_name)()
    root = cache_root(cache_dir)
    resolved = {**plugin.resolve(model, config), **plugin.prepare(model, examples, config)}
    if upstream is not None:  # a chained variant: the upstream artifact's key
        resolved["upstream"] = upstream
    key = artifact_key(plugin_name, model, examples, config, resolved)
    final = lookup(key, root)
    cached = final is not None
    if final is None:
        artifacts = root / "artifacts"
        lock = _locked(artifacts / f"{key}.lock") if _is_main_process() else contextlib.nullcontext()
        with lock:
            final = lookup(key, root, discard_damaged=True)  # another process may have finished it meanwhile
            cached = final is not None
            if final is None:
                final = _train_into_cache(plugin, key, artifacts, model, examples, config, extra_files, resolved)
    if cached and on_cached:
        on_cached(final)
    if final is None:  # not the main process of a distributed run: rank 0 publishes
        return Path(output or artifacts / key), cached
    return (publish(final, output, key) if output else final), cached


def _train_into_cache(plugin, key: str, artifacts: Path, model: ModelSpec, examples, config,
                      extra_files: dict[str, Any] | None, resolved: dict) -> Path | None:
    work = artifacts / f"{key}.partial"
    work.mkdir(parents=True, exist_ok=True)
    plugin.train(model, examples, config, work)
    if not _is_main_process():
        return None
    for name, data in (extra_files or {}).items():
        write_json(work / name, data)
    manifest_path = work / ARTIFACT_MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest.update({"cache_key": key, "plugin": plugin.name, "extra_files": sorted(extra_files or {})})
    if resolved:
        manifest["resolved"] = resolved
    write_json(manifest_path, manifest)
    shutil.rmtree(work / "checkpoints", ignore_errors=True)  # optimizer states: only needed to resume
    seal(work, key)
    final = artifacts / key
    os.rename(work, final)
    return final


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def publish(artifact: Path, output: str | Path, key: str | None = None) -> Path:
    """Make `output` a self-contained copy (hard links where possible) of `artifact`."""
    output = Path(output)
    if output.resolve() == artifact.resolve():
        return output
    if output.exists():
        manifest = output / ARTIFACT_MANIFEST
        if key and manifest.is_file() and json.loads(manifest.read_text()).get("cache_key") == key:
            return output  # the same artifact is already there
        if not output.is_dir() or any(output.iterdir()):
            raise BadInput(f"--output {output} already exists and holds something else: remove it or choose "
                           "another directory")
        output.rmdir()
    output.parent.mkdir(parents=True, exist_ok=True)
    staging = output.parent / f".{output.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        shutil.copytree(artifact, staging, copy_function=_link_or_copy)
        os.rename(staging, output)
    except BaseException:  # a full disk, a signal: no half-copied staging directory stays behind
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return output
