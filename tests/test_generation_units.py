"""Generation building blocks against upstream: task prompts, prompt rendering, extraction, cache, replay."""

from __future__ import annotations

import gzip
import json

import pytest

from harness.core.errors import BadInput
from harness.generation.base import DecodingConfig, cut_at_stop
from harness.generation.cache import GenerationCache
from harness.generation.prompts import choose_style, extract, make_template
from harness.generation.runner import GenerateConfig, generate_samples
from harness.generation.tasks import task_prompts
from tests.conftest import SHARED_DATA
from tests.generation_support import load_saved_tokenizer


def _release_rows(name):
    opener = gzip.open if name.endswith(".gz") else open
    with opener(SHARED_DATA / name, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def test_humaneval_prompts_follow_evalplus_codegen():
    rows = _release_rows("HumanEvalPlus-v0.1.10.jsonl.gz")
    tasks = task_prompts("humaneval", limit=3)
    assert [t.task_id for t in tasks] == ["HumanEval/0", "HumanEval/1", "HumanEval/2"]
    for task, row in zip(tasks, rows[:3], strict=True):
        assert task.prompt == row["prompt"].strip() + "\n"  # evalplus.codegen: prompt.strip() + "\n"
        assert task.meta["entry_point"] == row["entry_point"]
    assert tasks[0].meta["dataset_hash"] == "fe585eb4df8c88d844eeb463ea4d0302"  # evalplus's hash of v0.1.10


def test_task_selection_by_id_and_bad_ids():
    tasks = task_prompts("humaneval", tasks=["5", "HumanEval/7", "5"])
    assert [t.task_id for t in tasks] == ["HumanEval/5", "HumanEval/7"]
    assert [t.task_id for t in task_prompts("mbpp", limit=2)] == ["Mbpp/2", "Mbpp/3"]
    with pytest.raises(BadInput, match="unknown humaneval task '999'"):
        task_prompts("humaneval", tasks=["999"])
    with pytest.raises(BadInput, match="benchmark .humaneval. takes no option .split."):
        task_prompts("humaneval", split="instruct")
    with pytest.raises(BadInput, match="--limit"):
        task_prompts("humaneval", limit=0)


def test_bigcodebench_prompts_by_subset_and_split():
    hard = _release_rows("BigCodeBench-Hard-v0.1.4.jsonl")
    complete = task_prompts("bigcodebench", subset="hard", limit=2)
    instruct = task_prompts("bigcodebench", subset="hard", split="instruct", limit=2)
    assert [t.task_id for t in complete] == [r["task_id"] for r in hard[:2]]
    assert complete[0].prompt == hard[0]["complete_prompt"]  # bigcodebench passes it as is
    assert instruct[0].prompt == hard[0]["instruct_prompt"]
    assert complete[0].meta["fence"] and not instruct[0].meta["fence"]
    assert len(task_prompts("bigcodebench", limit=1140)) == 1140


def test_chat_prompt_is_evalplus_make_raw_chat_prompt():
    from evalplus.provider.utility import make_raw_chat_prompt

    from harness.generation.prompts import INSTRUCTION_PREFIX, RESPONSE_PREFIX

    tokenizer = load_saved_tokenizer()
    task = task_prompts("humaneval", limit=1)[0]
    template = make_template("chat", task.meta, tokenizer.chat_template)
    expected = make_raw_chat_prompt(task.prompt, INSTRUCTION_PREFIX, RESPONSE_PREFIX, tokenizer)
    assert template.render_text(task.prompt, tokenizer) == expected
    assert expected.endswith("```python\n")
    assert "\n```\n" in template.stop and "\ndef " not in template.stop


def test_direct_prompt_and_stop_strings_follow_evalplus():
    from evalplus.provider.utility import EOS, extra_eos_for_direct_completion

    for benchmark in ("humaneval", "mbpp"):
        task = task_prompts(benchmark, limit=1)[0]
        template = make_template("direct", task.meta, None)
        assert template.render_text(task.prompt, None) == task.prompt
        assert set(template.stop) == set(EOS) | set(extra_eos_for_direct_completion(benchmark))


def test_style_choice_and_bigcodebench_instruct_needs_chat():
    meta = {"fence": True}
    assert choose_style("auto", True, meta) == "chat"
    assert choose_style("auto", False, meta) == "direct"
    with pytest.raises(BadInput, match="needs a model with a chat template"):
        choose_style("chat", False, meta)
    with pytest.raises(BadInput, match="need a chat model"):
        choose_style("auto", False, {"fence": False})


def test_template_hash_changes_with_what_the_model_sees():
    meta = {"dataset": "humaneval", "fence": True}
    a = make_template("chat", meta, "{{ messages }}").template_hash()
    assert a == make_template("chat", meta, "{{ messages }}").template_hash()
    assert a != make_template("chat", meta, "{{ messages }} ").template_hash()
    assert a != make_template("direct", meta, None).template_hash()
    assert a != make_template("chat", {**meta, "dataset": "mbpp"}, "{{ messages }}").template_hash()


def test_extraction_direct_and_chat():
    task = task_prompts("humaneval", limit=1)[0]  # has_close_elements
    body = "    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])\n"
    direct = make_template("direct", task.meta, None)
    solution, completion = extract(direct, task.prompt, body + "\n\nprint(has_close_elements([1.0], 0.5))", "has_close_elements")
    assert completion.startswith(body)
    assert "def has_close_elements" in solution and "from typing import List" in solution and "print(" not in solution
    chat = make_template("chat", task.meta, "t")
    raw = "Here you go:\n```python\ndef helper(x):\n    return x\n\ndef has_close_elements(numbers, threshold):\n" \
          "    return helper(False)\n```\nHope it helps."
    solution, completion = extract(chat, task.prompt, raw, "has_close_elements")
    assert completion is None
    assert solution.startswith("def helper(x):") and solution.rstrip().endswith("return helper(False)")


def test_bigcodebench_extraction_keeps_a_task_func_without_return():
    meta = {"dataset": "bigcodebench", "fence": True}
    raw = "import os\ndef task_func(path):\n    os.remove(path)\n"
    solution, _ = extract(make_template("chat", meta, "t"), "", raw, "task_func")
    assert "def task_func(path):" in solution  # evalplus's sanitizer alone would keep only the import


def test_cut_at_stop_takes_the_earliest():
    assert cut_at_stop("a\ndef b\nif __name__ == 1", ("\nif __name__", "\ndef ")) == "a"
    assert cut_at_stop("x\ty", ()) == "x    y"


def test_cache_roundtrip_keys_and_damage(tmp_path):
    cache = GenerationCache(tmp_path)
    ident = {"model_hash": "m", "tokenizer": "t"}
    key = cache.key(ident, "tpl", DecodingConfig(max_new_tokens=5).key_fields(), "prompt")
    assert cache.get(key) is None
    cache.put(key, {"raw": "out", "solution": "out"})  # an entry holds both texts (checked on read)
    assert cache.get(key)["raw"] == "out"
    assert key != cache.key(ident, "tpl", DecodingConfig(max_new_tokens=6).key_fields(), "prompt")
    assert key != cache.key({**ident, "model_hash": "m2"}, "tpl", DecodingConfig(max_new_tokens=5).key_fields(), "prompt")
    # batch size moves plain-mode outputs, never invariant-mode ones
    plain = [DecodingConfig(batch_size=b, batch_mode="plain").key_fields() for b in (1, 8)]
    invariant = [DecodingConfig(batch_size=b, batch_mode="invariant").key_fields() for b in (1, 8)]
    assert plain[0] != plain[1] and invariant[0] == invariant[1]
    path = next((tmp_path / "outputs").rglob("*.json"))
    path.write_text('{"raw": "tor')  # damaged from outside: regenerated, never trusted
    assert cache.get(key) is None
    assert not list(tmp_path.rglob("*.tmp"))


def test_replay_extracts_and_records_provenance(tmp_path):
    source = tmp_path / "theirs.jsonl"
    source.write_text(
        json.dumps({"task_id": "HumanEval/0", "completion": "    return False\n"}) + "\n"
        + json.dumps({"task_id": "HumanEval/1", "solution": "```python\ndef separate_paren_groups(s):\n    return []\n```"})
        + "\n"
    )
    run = generate_samples(GenerateConfig(benchmark="humaneval", limit=2, backend="replay", samples_from=str(source),
                                          cache_dir=str(tmp_path / "c"), progress=False))
    first, second = run.rows
    assert first["task_id"] == "HumanEval/0" and "def has_close_elements" in first["solution"]
    assert first["solution"].rstrip().endswith("return False")
    assert second["solution"] == "def separate_paren_groups(s):\n    return []"
    assert first["backend"] == "replay" and first["model_hash"].startswith("file:")
    assert not (tmp_path / "c").exists()  # replay is not cached: the file is the cache
    with pytest.raises(BadInput, match="no sample for HumanEval/2"):
        generate_samples(GenerateConfig(benchmark="humaneval", limit=3, backend="replay", samples_from=str(source),
                                        progress=False))
