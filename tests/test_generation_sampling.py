"""Sampled generation (issue 25, Build 1): n samples per task, sample i seeded from (seed, task, i), bit-identical at
batch 1 and batch B in invariant mode, each sample cached on its own, a run interrupted mid-task resumes; greedy
keeps its outputs and cache keys."""

from __future__ import annotations

import json

import pytest
import torch

from harness.app.cli import main
from harness.generation import DecodingConfig, GenerateConfig, generate_samples
from harness.generation.cache import KEY_VERSION
from harness.generation.sampling import make_generator, row_seed, sample_token
from tests.generation_support import tiny_model_dir


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sample_token_is_the_inverse_cdf_of_the_nucleus():
    """Against a plain-Python computation of the documented construction, with the same uniform draw."""
    import math

    logits = torch.tensor([2.0, 1.0, 1.0, 0.5, -1.0, 3.0], dtype=torch.float32)
    for temperature, top_p in ((1.0, 1.0), (0.7, 0.9), (1.3, 0.5), (0.2, 0.999)):
        for seed in range(40):
            generator = make_generator(seed)
            twin = make_generator(seed)
            u = torch.rand((), generator=twin, dtype=torch.float64).item()
            weights = [math.exp(x / temperature) for x in logits.double().tolist()]
            probs = [w / sum(weights) for w in weights]
            order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))
            kept, mass = [], 0.0
            for i in order:
                kept.append(i)
                mass += probs[i]
                if mass >= top_p - 1e-12:
                    break
            total = sum(probs[i] for i in kept)
            running, expected = 0.0, kept[-1]
            for i in kept:
                running += probs[i] / total
                if running > u:
                    expected = i
                    break
            assert sample_token(logits, temperature, top_p, generator) == expected, (temperature, top_p, seed)


def test_row_seed_depends_on_seed_task_and_index_only():
    seeds = {row_seed(s, t, i) for s in (0, 1) for t in ("HumanEval/0", "HumanEval/1") for i in range(3)}
    assert len(seeds) == 12 and all(0 <= s < 2**63 for s in seeds)
    assert row_seed(0, "HumanEval/0", 2) == row_seed(0, "HumanEval/0", 2)


def config(tmp_path, **decoding) -> GenerateConfig:
    fields = {"max_new_tokens": 12, "batch_mode": "invariant", "n_samples": 4, "temperature": 0.8, "top_p": 0.95,
              "seed": 1} | decoding
    return GenerateConfig(model=str(tiny_model_dir()), benchmark="humaneval", limit=4, progress=False,
                          cache_dir=str(tmp_path), decoding=DecodingConfig(**fields))


def texts(run) -> list[tuple[str, int, str]]:
    return [(r["task_id"], r["sample_index"], r["raw"]) for r in run.rows]


def test_samples_identical_at_any_batch_size_and_seeded(tmp_path):
    one = generate_samples(config(tmp_path / "c1", batch_size=1))
    eight = generate_samples(config(tmp_path / "c8", batch_size=8))
    assert len(one.rows) == 16 and one.generated == 16
    assert texts(one) == texts(eight)
    assert [(r["task_id"], r["sample_index"]) for r in one.rows] == [
        (f"HumanEval/{t}", i) for t in range(4) for i in range(4)]
    per_task = [{r["raw"] for r in one.rows if r["task_id"] == f"HumanEval/{t}"} for t in range(4)]
    assert all(len(s) > 1 for s in per_task), "samples of a task should differ at temperature 0.8"
    other = generate_samples(config(tmp_path / "c8", batch_size=8, seed=2))
    assert sum(a != b for a, b in zip(texts(one), texts(other), strict=True)) >= 12
    # n = 2 gives the first two samples of n = 4 (the index, not the batch, selects the stream), from the cache
    two = generate_samples(config(tmp_path / "c8", batch_size=3, n_samples=2))
    assert two.cached == 8 and texts(two) == [t for t in texts(one) if t[1] < 2]
    row = one.rows[0]
    assert row["decoding"] == {"greedy": False, "max_new_tokens": 12, "batch_mode": "invariant",
                                    "temperature": 0.8, "top_p": 0.95, "seed": 1, "n_samples": 4,
                                    "batch_size": 1, "dtype": "float32", "device": "cpu", "row_block": 8}


class Interrupt(Exception):
    pass


def test_resume_mid_task(tmp_path):
    reference = generate_samples(config(tmp_path / "ref", batch_size=8))
    from harness.generation import runner

    cfg = config(tmp_path / "cut", batch_size=8)
    backend = runner.make_backend(runner.resolve(cfg), runner.GenerationCache(cfg.cache_dir))
    real = backend.generate

    def interrupted(requests, on_output, batch_size=None):
        done = []

        def counting(out):
            on_output(out)
            done.append(out.index)
            if len(done) == 6:  # mid-task: some of a task's samples finished, others in flight
                raise Interrupt

        real(requests, counting, batch_size)

    backend.generate = interrupted
    with pytest.raises(Interrupt):
        generate_samples(cfg, backend=backend)
    resumed = generate_samples(cfg)
    assert resumed.cached == 6 and resumed.generated == 10
    assert texts(resumed) == texts(reference)
    tasks_cut = {r["task_id"] for r in resumed.rows if r["cached"]}
    assert any(sum(r["cached"] for r in resumed.rows if r["task_id"] == t) not in (0, 4) for t in tasks_cut)


def test_greedy_keeps_its_keys_and_outputs(tmp_path, shared_data):
    from tests.conftest import read_jsonl

    problems = {p["task_id"]: p for p in read_jsonl(shared_data / "HumanEvalPlus-v0.1.10.jsonl.gz")}
    greedy = generate_samples(config(tmp_path, n_samples=1, temperature=0.0, top_p=1.0, seed=0, batch_size=4))
    # the key as it was before sampling existed: no sample index, no temperature/top-p/seed
    from harness.core.hashing import json_digest

    row = greedy.rows[0]
    assert "sample_index" not in row
    assert row["decoding"] == {"greedy": True, "max_new_tokens": 12, "batch_mode": "invariant", "batch_size": 4,
                               "dtype": "float32", "device": "cpu", "row_block": 8}
    identity = {"backend": "hf", "model_hash": row["model_hash"], "tokenizer": row["tokenizer"],
                "engine": {**row["versions"], **{k: row["decoding"][k] for k in ("device", "dtype", "row_block")}}}
    task_prompt = problems["HumanEval/0"]["prompt"].strip() + "\n"
    expected = json_digest({"v": 1, "identity": identity, "template": row["template_hash"],
                            "decoding": {"greedy": True, "max_new_tokens": 12, "batch_mode": "invariant"},
                            "prompt": task_prompt})
    assert KEY_VERSION == 1 and row["cache_key"] == expected
    # n = 2 greedy: one generation per task, its copies identical to the n = 1 output
    twice = generate_samples(config(tmp_path, n_samples=2, temperature=0.0, top_p=1.0, seed=0, batch_size=4))
    assert twice.cached == 8 and [r["raw"] for r in twice.rows] == [r["raw"] for r in greedy.rows for _ in (0, 1)]
    assert [r["cache_key"] for r in twice.rows[::2]] == [r["cache_key"] for r in greedy.rows]


def test_cli_flags_and_replay_of_an_n_sample_file(tmp_path):
    out = tmp_path / "s.jsonl"
    args = ["generate", "--model", str(tiny_model_dir()), "--benchmark", "humaneval", "--limit", "2",
            "--max-new-tokens", "8", "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--output", str(out),
            "--n-samples", "3", "--temperature", "0.9", "--top-p", "0.9", "--seed", "5"]
    assert main(args) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["task_id"], r["sample_index"]) for r in rows] == [(f"HumanEval/{t}", i) for t in (0, 1) for i in (0, 1, 2)]
    replayed = tmp_path / "replayed.jsonl"
    assert main(["generate", "--backend", "replay", "--samples-from", str(out), "--benchmark", "humaneval",
                 "--limit", "2", "--n-samples", "3", "--no-progress", "--output", str(replayed)]) == 0
    again = [json.loads(line) for line in replayed.read_text().splitlines()]
    assert [r["solution"] for r in again] == [r["solution"] for r in rows]
    assert main(["generate", "--backend", "replay", "--samples-from", str(out), "--benchmark", "humaneval",
                 "--limit", "2", "--n-samples", "4", "--no-progress", "--output", str(replayed)]) == 2
    assert main([*args[:-8], "--top-p", "0.5"]) == 2  # top-p without temperature: one line, exit 2


def test_encoder_decoder_samples_do_not_depend_on_the_batch(tmp_path):
    from tests.generation_support import tiny_t5_dir

    def run(batch_size: int, seed: int = 1):  # the tiny random T5 is peaked: a high temperature spreads it
        cfg = config(tmp_path / f"t5-{batch_size}-{seed}", batch_size=batch_size, seed=seed, temperature=20.0,
                     top_p=1.0)
        return generate_samples(GenerateConfig(**{**cfg.__dict__, "model": str(tiny_t5_dir())}))

    one, four = run(1), run(4)
    assert [r["prompt_style"] for r in one.rows][:1] == ["seq2seq"]
    assert texts(one) == texts(four) and len(one.rows) == 16
    assert len({r["raw"] for r in one.rows}) > 4
    assert texts(run(4, seed=2)) != texts(one)
