"""The variant pipeline: filtering, selection by cosine on a hand-made example, the report's counts, the cache
(a hit generates nothing and loads no model), the teacher source (seeded sampling and the greedy-backend path on a
tiny random Llama; one short run of the embedded SmolLM2), and the sandbox job that runs snippet tests."""

from __future__ import annotations

import pytest

from plugins.api import TrainingExample
from plugins.training.variants import VariantConfig, VariantSource, attach_variants, classify

CORRECT = "def clamp(x, lo, hi):\n    if x < lo:\n        return lo\n    return min(x, hi)\n"
CLOSE = "def clamp(x, lo, hi):\n    if x <= lo:\n        return lo\n    return min(x, hi)\n"  # `<` → `<=`
FAR = "def clamp(x, lo, hi):\n    return sorted([x, lo, hi])[0]\n"
IDENTICAL = "def clamp(x, lo, hi):\n    if x < lo:   # below\n\n        return lo\n    return min(x,hi)\n"
UNPARSABLE = "def clamp(x, lo, hi)\n    return x\n"


def test_classify_hand_made_candidates():
    candidates = [UNPARSABLE, IDENTICAL, CORRECT + "\n\n", FAR, CLOSE, FAR.replace("[0]", "[0]  # low"), "  \n"]
    assert classify(CORRECT, candidates) == [
        "unparsable",  # missing colon
        "identical",  # only a comment, spaces and a blank line differ: same AST
        "identical",  # trailing blank lines
        "candidate",
        "candidate",
        "duplicate",  # FAR plus a comment
        "unparsable",  # empty
    ]


class FixedSource(VariantSource):
    """A source that returns given candidates per example (the pipeline's own logic is what is tested)."""

    name = "fixed"

    def __init__(self, config, candidates: dict[str, list[str]]):
        super().__init__(config)
        self.candidates = candidates

    def identity(self) -> dict:
        return {"source": self.name, "candidates": self.candidates}

    def key_fields(self) -> dict:
        return {}

    def generate(self, jobs, on_candidates) -> None:
        for index, example in jobs:
            self.generated += 1
            on_candidates(index, self.candidates[example.code], {"offered": len(self.candidates[example.code])})


def _example(code: str | None, tests: str | None = None) -> TrainingExample:
    meta = {"tests": tests} if tests else {}
    return TrainingExample(instruction="Clamp x to [lo, hi].", response=f"```python\n{code}\n```", code=code, meta=meta)


def test_selection_picks_the_closest_candidate_and_the_counts_add_up(tmp_path):
    other = "def twice(x):\n    return 2 * x\n"
    source = FixedSource(VariantConfig(), {
        CORRECT: [FAR, UNPARSABLE, CLOSE, IDENTICAL, FAR],
        other: [other.replace("  ", "    ")],  # only identical candidates: no variant
    })
    examples = [_example(CORRECT), _example(None), _example(other)]
    config = VariantConfig(embedding="char-ngram")
    out, report = attach_variants(examples, source, config, cache_dir=tmp_path)
    assert [e.incorrect for e in out] == [CLOSE]  # FAR is further from CORRECT
    assert out[0].code == CORRECT and examples[0].incorrect is None  # copies: the caller's examples are untouched
    assert out[0].meta["variant"]["source"] == "fixed" and 0.8 < out[0].meta["variant"]["similarity"] < 1
    assert report["counts"] == {
        "examples": 3, "examples_with_code": 2, "generated": 6, "unparsable": 1, "identical": 2, "duplicate": 1,
        "passing_tests": 0, "candidates_left": 2, "kept": 1, "no_variant": 1,
    }
    assert report["embedding"]["method"] == "char-ngram" and report["source_stats"] == {"offered": 6}
    assert report["similarity"]["n"] == 1 and report["tests"]["test_runs"] == 0
    kept_all, _ = attach_variants(examples, FixedSource(config, source.candidates),
                                  VariantConfig(embedding="char-ngram", keep_unpaired=True), cache_dir=tmp_path)
    assert [e.incorrect for e in kept_all] == [CLOSE, None, None]


class CrashingSource(FixedSource):
    """Fails after its first example, like a run killed mid-way."""

    def generate(self, jobs, on_candidates) -> None:
        index, example = jobs[0]
        self.generated += 1
        on_candidates(index, self.candidates[example.code], {})
        raise KeyboardInterrupt


def test_a_crashed_run_resumes_from_the_cache(tmp_path):
    other = "def twice(x):\n    return 2 * x\n"
    candidates = {CORRECT: [CLOSE], other: [other.replace("2 *", "3 *")]}
    examples = [_example(CORRECT), _example(other)]
    config = VariantConfig(embedding="char-ngram")
    with pytest.raises(KeyboardInterrupt):
        attach_variants(examples, CrashingSource(config, candidates), config, cache_dir=tmp_path)
    resumed = FixedSource(config, candidates)
    out, report = attach_variants(examples, resumed, config, cache_dir=tmp_path)
    assert resumed.generated == 1 and report["cache"]["hits"] == 1 and report["cache"]["misses"] == 1
    assert [e.incorrect for e in out] == [CLOSE, other.replace("2 *", "3 *")]
    assert report["counts"]["generated"] == 2 and report["counts"]["kept"] == 2


def test_snippet_tests_job_in_the_process_sandbox():
    from sandboxes import make_sandbox

    tests = "assert f(2) == 4\n"
    cases = {
        "pass": "def f(x):\n    return x * 2\n",
        "wrong": "def f(x):\n    return x + 3\n",
        "raises": "raise RuntimeError('at import')\n",
        "exits early": "import os\nos._exit(0)\n",  # must not read as a pass
        "hangs": "def f(x):\n    while True:\n        pass\n",
    }
    payloads = [{"code": code, "tests": tests, "timeout": 1.0} for code in cases.values()]
    with make_sandbox("process") as sandbox:
        results = dict(sandbox.run("run_snippet_tests", payloads, [20.0] * len(payloads)))
    statuses = [results[i].value["status"] for i in range(len(cases))]
    assert statuses == ["pass", "fail", "fail", "fail", "timeout"]
    assert results[1].value["detail"] == "a test failed" and results[2].value["detail"] == "the code raised"


# ---- the teacher --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def one_torch_thread():
    """Decoding a few tokens of a small model is all thread synchronisation: on a busy 2-core machine it ran 15×
    slower with torch's 2 threads than with 1. Restored afterwards for the other test modules."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_llama(one_torch_thread):
    """A tiny random Llama with the SmolLM2 tokenizer (real chat template), as a model directory."""
    from tests.generation_support import tiny_model_dir

    return str(tiny_model_dir())


def _teacher_config(**overrides) -> VariantConfig:
    return VariantConfig(**{"n_candidates": 2, "max_new_tokens": 12, "embedding": "char-ngram", **overrides})


def test_teacher_sampling_is_seeded_cached_and_a_hit_loads_nothing(tiny_llama, tmp_path):
    from plugins.training.variant_teacher import TeacherSource

    examples = [_example(CORRECT), _example(FAR)]
    config = _teacher_config()
    first = TeacherSource(config, tiny_llama)
    _, report = attach_variants(examples, first, config, cache_dir=tmp_path / "a")
    assert first.generated == 2 and report["cache"]["misses"] == 2
    assert report["source_identity"]["mode"] == "hf-sampling" and report["counts"]["generated"] == 4
    counts = report["counts"]
    assert counts["generated"] == sum(counts[k] for k in ("unparsable", "identical", "duplicate", "passing_tests",
                                                          "candidates_left"))
    assert report["source_stats"]["new_tokens"] > 0

    cached = TeacherSource(config, tiny_llama)
    _, report2 = attach_variants(examples, cached, config, cache_dir=tmp_path / "a")
    assert cached.generated == 0 and cached._model is None  # nothing generated, no model loaded
    assert report2["cache"]["hits"] == 2 and report2["counts"] == counts

    # Same seed, fresh cache: the same candidates again; another seed: different ones.
    def candidates(root, seed):
        from plugins.training.variants import VariantCache, candidates_key

        source = TeacherSource(_teacher_config(seed=seed), tiny_llama)
        attach_variants(examples, source, source.config, cache_dir=root)
        key = candidates_key(source.identity(), source.key_fields(), examples[0])
        return VariantCache(root).get("candidates", key)["candidates"]

    assert candidates(tmp_path / "a", 0) == candidates(tmp_path / "b", 0)
    assert candidates(tmp_path / "b", 0) != candidates(tmp_path / "c", 1)


def test_teacher_through_a_greedy_backend_asks_for_distinct_variants(tiny_llama, tmp_path):
    from plugins.training.variant_teacher import TeacherSource, teacher_prompt

    config = _teacher_config(temperature=0.0)
    source = TeacherSource(config, tiny_llama)
    assert source.identity()["mode"] == "backend-greedy"
    out, report = attach_variants([_example(CORRECT)], source, config, cache_dir=tmp_path)
    assert source.generated == 1 and report["counts"]["generated"] == 2
    assert "variant 1 of 2" in teacher_prompt(_example(CORRECT), 1, 2)
    assert teacher_prompt(_example(CORRECT), 1, 2) != teacher_prompt(_example(CORRECT), 2, 2)


def test_extract_variant():
    from plugins.training.variant_teacher import extract_variant

    assert extract_variant("x = 1\ny = 2\n```\nThe bug is...", prefilled=True) == "x = 1\ny = 2"
    assert extract_variant("x = 1", prefilled=True) == "x = 1"  # ran out of tokens before the fence closed
    assert extract_variant("    return x```", prefilled=True) == "    return x"  # fence right after the code
    reply = "Here you go:\n```python\ndef f():\n    return 0\n```\nDone."
    assert extract_variant(reply, prefilled=False) == "def f():\n    return 0"


@pytest.mark.model
def test_embedded_smollm2_teacher_short_run(one_torch_thread, tmp_path):
    """The real default teacher (embedded SmolLM2-135M-Instruct), 2 samples of 24 tokens for one example."""
    config = _teacher_config(max_new_tokens=24)
    out, report = attach_variants([_example(CORRECT)], "teacher", config, None, sandbox_name="process",
                                  cache_dir=tmp_path)
    assert report["source_identity"]["model"] == "smollm2" and report["source_identity"]["model_hash"]
    assert report["counts"]["generated"] == 2 and report["source_stats"]["new_tokens"] > 0
    assert report["counts"]["kept"] == len(out) <= 1
