"""What a variant configuration resolves to on this machine: the teacher model and the embedding model actually
used, each with a content hash. Cheap (no weights are loaded) and strict: a model the configuration names but
this machine does not hold is a `BadInput` naming it, raised before anything trains.

Why this exists: the names in a config (`embedding = "auto"`, a hub id) do not say what ran. `auto` uses
UniXcoder where it is cached and character n-grams elsewhere; an artifact keyed by the string "auto" would be
reused across the two. The training plugins put this record into the artifact key and the manifest.

Hashes: a local directory is hashed by content (harness.core.hashing.tree_digest, memoised through ModelSpec); a model
in the Hugging Face cache by its snapshot (revision + the content-addressed blob names the files link to), which
names the same bytes without reading gigabytes of weights.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core.errors import BadInput
from harness.core.hashing import json_digest
from harness.models import EMBEDDED_MODEL, resolve_model


def hub_snapshot(ref: str) -> Path | None:
    """The local snapshot directory of hub id `ref`, or None when its config is not in the local HF cache."""
    if ref.count("/") != 1 or ref.startswith((".", "/")) or Path(ref).exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(ref, "config.json")
    except (ImportError, ValueError):
        return None
    return Path(found).parent if isinstance(found, str) else None


def snapshot_digest(snapshot: Path) -> str:
    """Revision + (file, blob it links to) of a hub snapshot: content-addressed names, no weights read."""
    files = []
    for path in sorted(p for p in snapshot.rglob("*") if p.is_file()):
        target = os.readlink(path) if path.is_symlink() else path.name
        files.append([str(path.relative_to(snapshot)), Path(target).name])
    return json_digest({"revision": snapshot.name, "files": files})


def model_resolution(ref: str, role: str) -> dict:
    """{"ref", "path", "hash"} of a model reference this machine holds; BadInput naming `role` and `ref` if not."""
    spec = resolve_model(ref)  # BadInput for an unknown reference or a broken directory
    if not spec.hub:
        return {"ref": ref, "name": spec.name, "path": spec.path, "hash": spec.content_hash()}
    snapshot = hub_snapshot(spec.path)
    if snapshot is None:
        raise BadInput(f"{role} {ref} is not available locally (not in the Hugging Face cache; no download is "
                       "attempted): download it or give a local directory")
    return {"ref": ref, "name": spec.name, "path": str(snapshot), "hash": snapshot_digest(snapshot)}


def embedding_resolution(method: str, model: str | None) -> dict:
    """The embedder `make_embedder` would use, with the hash of its model; `unixcoder` asked for by name and not
    available is an error (no silent fallback); `auto` records its fallback."""
    from plugins.training.embedding import UNIXCODER, make_embedder, unixcoder_available

    if method == "unixcoder":
        available, why_not = unixcoder_available(model)
        if not available:
            raise BadInput(f"embedding model {model or UNIXCODER} (embedding = \"unixcoder\") is not available: "
                           f"{why_not}")
    _, record = make_embedder(method, model)
    if record.get("method") == "unixcoder":
        ref = record.get("model") or UNIXCODER
        snapshot = None if Path(ref).is_dir() else hub_snapshot(ref)
        record["model_hash"] = snapshot_digest(snapshot) if snapshot else resolve_model(ref).content_hash()
    return record


def teacher_ref(variants, model_ref: str | None) -> str:
    """The model the teacher source loads (plugins.training.variant_teacher.TeacherSource)."""
    return variants.teacher_model or model_ref or EMBEDDED_MODEL


def resolve_variants(source: str, variants, model_ref: str | None) -> dict:
    """The record of what `source` with `variants` uses here; problems are collected into one BadInput line."""
    record: dict = {"source": source}
    problems = []
    if source == "teacher" and variants.teacher_backend != "hf":
        record["teacher"] = {"ref": teacher_ref(variants, model_ref), "backend": variants.teacher_backend}
    elif source == "teacher":
        try:
            record["teacher"] = model_resolution(teacher_ref(variants, model_ref), "teacher model")
        except BadInput as exc:
            problems.append(str(exc))
    try:
        record["embedding"] = embedding_resolution(variants.embedding, variants.embedding_model)
    except BadInput as exc:
        problems.append(str(exc))
    if problems:
        raise BadInput("; ".join(problems))
    return record
