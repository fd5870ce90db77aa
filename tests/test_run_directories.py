"""`run --data-dir D --cache-dir C` reaches every stage: training data and decontamination read D, generation and
evaluation score D's release (its own md5), and every cache is written under C, nowhere else."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

from harness.core.data import cache_root, directories
from tests.conftest import SHARED_DATA, read_jsonl, run_cli
from tests.generation_support import tiny_model_dir
from tests.run_support import TINY_SFT, run_config, write_samples


def _data_dir(root):
    """A data directory with its own HumanEval+ release (the first 3 tasks of v0.1.10) and the training data."""
    root.mkdir()
    with gzip.open(SHARED_DATA / "HumanEvalPlus-v0.1.10.jsonl.gz", "rt", encoding="utf-8") as handle:
        lines = [next(handle) for _ in range(3)]
    (root / "HumanEvalPlus-v0.1.10.jsonl").write_text("".join(lines), encoding="utf-8")
    shutil.copy(SHARED_DATA / "EvolInstruct-Code-4k.jsonl.gz", root)
    return root, [json.loads(line) for line in lines]


def test_run_data_dir_and_cache_dir_reach_every_stage(tmp_path):
    data, tasks = _data_dir(tmp_path / "data")
    md5 = hashlib.md5((data / "HumanEvalPlus-v0.1.10.jsonl").read_bytes()).hexdigest()
    replay = write_samples(tmp_path / "replay.jsonl", [
        {"task_id": t["task_id"], "solution": t["prompt"] + t["canonical_solution"]} for t in tasks[:2]])
    config = run_config(tmp_path / "run.toml", model=str(tiny_model_dir()), variants=["base", "sft"],
                        replay=str(replay), benchmarks={"humaneval": 2}, plugins={"sft": TINY_SFT},
                        training_limit=2)
    cache, elsewhere, run_dir = tmp_path / "cache", tmp_path / "default-cache", tmp_path / "run"
    elsewhere.mkdir()
    proc = run_cli("run", "--config", str(config), "--output", str(run_dir), "--data-dir", str(data),
                   "--cache-dir", str(cache), env={"FGIT_BENCH_CACHE": str(elsewhere), "FGIT_BENCH_DATA": ""})
    assert proc.returncode == 0, proc.stderr[-3000:]

    report = json.loads((run_dir / "sft" / "artifact" / "data_report.json").read_text())
    assert report["source"] == str(data / "EvolInstruct-Code-4k.jsonl.gz")
    assert report["decontamination"]["benchmark_files"]["humaneval"]["path"] == str(data / "HumanEvalPlus-v0.1.10.jsonl")
    for variant in ("base", "sft"):
        samples = read_jsonl(run_dir / variant / "humaneval" / "samples.jsonl")
        assert {r["dataset"]["md5"] for r in samples} == {md5}
        results = read_jsonl(run_dir / variant / "humaneval" / "eval" / "results.jsonl")
        assert [r["base_pass"] for r in results] == [True, True] and {r["dataset_hash"] for r in results} == {md5}
    assert {p.name for p in cache.iterdir()} >= {"artifacts", "training-data", "verdicts", "groundtruth"}
    assert list(elsewhere.iterdir()) == []  # the environment's cache root was not used by any stage


def test_variant_and_artifact_caches_use_the_one_root(tmp_path):
    from plugins.training import artifact_cache
    from plugins.training.variants import VariantCache

    with directories(str(tmp_path / "c"), None):
        assert cache_root() == tmp_path / "c"
        assert artifact_cache.cache_root() == tmp_path / "c"
        assert VariantCache().root == tmp_path / "c" / "variants"
    assert cache_root() != tmp_path / "c"  # restored after the command
