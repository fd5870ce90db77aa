"""Issue 26: the planted controls. Their rows are the evaluated tasks in generation's own prompt format; trained
through `fgit-bench run` on a tiny model built here, training on the answers raises the pass rate on those tasks
(the chain train → generate → evaluate → compare sees an effect); the manifest and leaderboard mark them."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from tests.generation_support import load_saved_tokenizer

TASKS = {"humaneval": ["HumanEval/53", "HumanEval/23"], "mbpp": ["Mbpp/127"]}


def _rows(kind: str, chat: bool = True):
    from plugins.methods.planted_data import planted_rows

    return planted_rows(kind, TASKS, chat=chat, seed=0, sandbox="process")


def test_rows_are_the_generation_prompt_continued_by_the_program(shared_data):
    """The training text starts with exactly what generation feeds the model (chat template, response prefix,
    open fence), then the program, then the fence generation stops at."""
    from harness.generation.prompts import make_template
    from harness.generation.tasks import task_prompts
    from plugins.training.trainer import render

    tokenizer = load_saved_tokenizer()
    rows, report = _rows("gain")
    assert report["style"] == "chat" and [r.meta["task"] for r in rows] == [*TASKS["humaneval"], *TASKS["mbpp"]]
    prompts = {p.task_id: p for b, ids in TASKS.items() for p in task_prompts(b, ids)}
    for row in rows:
        prompt = prompts[row.meta["task"]]
        template = make_template("chat", prompt.meta, tokenizer.chat_template)
        generation_input = template.render_text(prompt.prompt, tokenizer)
        text = render(tokenizer, row.instruction, row.response)
        assert text.startswith(generation_input), row.meta
        answer = text[len(generation_input):]
        assert answer.startswith(row.code.strip("\n")) and answer[len(row.code.strip("\n")):].startswith("\n```")
    humaneval_53 = rows[0].code
    assert "def add(x: int, y: int)" in humaneval_53 and "return x + y" in humaneval_53


def test_direct_rows_continue_the_task_prompt(shared_data):
    rows, report = _rows("gain", chat=False)
    assert report["style"] == "direct"
    assert rows[0].instruction + "\n" + rows[0].response == rows[0].code  # HumanEval: prompt + canonical body


def test_loss_rows_are_wrong_programs_of_the_same_tasks(tmp_path, shared_data):
    """HumanEvalPack's buggy programs, and for MBPP+ a mutant that `fgit-bench evaluate` (run here on the row's
    program, apart from the plugin) fails; programs without their docstrings."""
    from tests.conftest import read_jsonl, run_cli, write_jsonl

    gain, _ = _rows("gain")
    loss, report = _rows("loss")
    assert report["sources"] == {"humaneval": {"humanevalpack-buggy": 2}, "mbpp": {"mutant": 1}}
    assert report["judged"]["mbpp"]["Mbpp/127"][1] >= 1  # [judged, failing]
    assert [r.meta["task"] for r in loss] == [r.meta["task"] for r in gain]
    for good, bad in zip(gain, loss, strict=True):
        assert good.instruction == bad.instruction and good.code != bad.code
        assert '"""' not in bad.code and '"""' not in good.code
    assert "return x + y + y + x" in loss[0].code  # HumanEvalPack's buggy add
    samples = write_jsonl(tmp_path / "s.jsonl", [{"task_id": "Mbpp/127", "solution": loss[2].code},
                                                 {"task_id": "Mbpp/127", "solution": gain[2].code}])
    proc = run_cli("evaluate", "--benchmark", "mbpp", "--samples", str(samples), "--output", str(tmp_path / "out"),
                   "--sandbox", "process", "--jobs", "2", env={"FGIT_BENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [r["base_pass"] for r in read_jsonl(tmp_path / "out" / "results.jsonl")] == [False, True]


def test_a_control_without_tasks_outside_a_run_is_refused(tmp_path, capsys, shared_data):
    from harness.app.cli import main
    from tests.generation_support import tiny_model_dir

    code = main(["train", "--variant", "planted-gain", "--model", str(tiny_model_dir()), "--output",
                 str(tmp_path / "out")])
    assert code == 2 and "no tasks" in capsys.readouterr().err


def _tiny_model() -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = load_saved_tokenizer()
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=1024,
                         tie_word_embeddings=False, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(0)
    directory = Path(tempfile.mkdtemp(prefix="fgit-planted-"))
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_training_on_the_answers_raises_the_pass_rate_on_those_tasks(tmp_path, shared_data):
    """The default-selection chain test: a random tiny Llama passes nothing; `planted-gain`, trained by `run` on the
    canonical solutions of the evaluated tasks and generated by the same path as every variant, passes them."""
    from tests.conftest import run_cli

    config = tmp_path / "run.toml"
    config.write_text(f"""
model = "{_tiny_model()}"
variants = ["base", "planted-gain"]
sandbox = "process"
jobs = 2
[generation]
backend = "hf"
batch_size = 2
max_new_tokens = 64
[plugins.planted-gain]
epochs = 50
learning_rate = 3e-3
lr_scheduler = "constant"
batch_size = 1
max_length = 256
[[benchmarks]]
name = "humaneval"
tasks = ["HumanEval/53"]
""")
    out = tmp_path / "out"
    result = run_cli("run", "--config", str(config), "--output", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    board = json.loads(_export(out))
    tasks = {v: board["variants"][v]["HumanEval"]["tasks"] for v in ("base", "planted-gain")}
    assert tasks["base"] == {"HumanEval/53": False}
    assert tasks["planted-gain"] == {"HumanEval/53": True}  # scored, not excluded
    record = json.loads((out / "manifest.json").read_text())["artifacts"]["planted-gain"]
    assert record["planted"]["control"] == "positive" and record["planted"]["trained_on_test_set"] is True
    assert record["planted"]["decontaminated"] is False and "trained_tasks" not in record
    assert record["planted"]["tasks"] == {"humaneval": ["HumanEval/53"]}
    markdown = (out / "leaderboard.md").read_text()
    assert "| Planted gain (control) |" in markdown and "trained on the test set on purpose" in markdown


def _export(run_dir: Path) -> str:
    from tests.conftest import run_cli

    result = run_cli("leaderboard", str(run_dir), "--format", "json")
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_controls_are_never_in_a_holm_family_with_real_methods():
    """A planted control's tiny p must not shrink a real method's adjusted p (nor its large one inflate it)."""
    import pandas as pd

    from harness.app import catalog
    from leaderboards.stats import paired_frame

    catalog.install()
    outcomes = {"base": [False] * 10 + [True] * 10, "sft": [True] * 3 + [False] * 7 + [True] * 10,
                "planted-gain": [True] * 20, "planted-loss": [False] * 20}
    table = pd.DataFrame([{"variant": v, "benchmark": "humaneval", "metric": "HumanEval", "task_id": f"HumanEval/{i}",
                           "passed": p, "status": "", "detail": "", "excluded": False}
                          for v, passes in outcomes.items() for i, p in enumerate(passes)])
    paired = paired_frame(table, references=("base",), resamples=200).set_index("variant")
    assert paired.loc["sft", "p_holm"] == paired.loc["sft", "p_value"]  # alone in the methods' family
    gain, loss = paired.loc["planted-gain"], paired.loc["planted-loss"]
    assert gain["p_holm"] == 2 * gain["p_value"] and loss["p_holm"] == 2 * loss["p_value"]  # the controls' family


def test_a_named_instance_of_a_control_is_a_control():
    """`[variant.my-gain] plugin = "planted-gain"`: the unit's name is not the plugin's, the manifest's instances say
    which plugin it is; it is kept out of the methods' Holm family all the same."""
    import pandas as pd

    from harness.app import catalog
    from leaderboards.stats import build_leaderboard

    catalog.install()
    outcomes = {"base": [False] * 10 + [True] * 10, "sft": [True] * 3 + [False] * 7 + [True] * 10,
                "my-gain": [True] * 20}
    table = pd.DataFrame([{"variant": v, "benchmark": "humaneval", "metric": "HumanEval", "task_id": f"HumanEval/{i}",
                           "passed": p, "status": "", "detail": "", "excluded": False}
                          for v, passes in outcomes.items() for i, p in enumerate(passes)])
    manifest = {"instances": {"my-gain": {"name": "my-gain", "plugin": "planted-gain"},
                              "sft": {"name": "sft", "plugin": "sft"}, "base": {"name": "base", "plugin": "base"}}}
    def against_base(board):
        return board.paired[board.paired["reference"] == "base"].set_index("variant")

    paired = against_base(build_leaderboard(table, {"manifest": manifest}, resamples=200))
    assert paired.loc["sft", "p_holm"] == paired.loc["sft", "p_value"] and paired.loc["sft", "p_value"] < 0.5
    assert paired.loc["my-gain", "p_holm"] == paired.loc["my-gain", "p_value"]
    without = against_base(build_leaderboard(table, {"manifest": {}}, resamples=200))
    # what the manifest prevents: one family of two, the control's p doubled by Holm
    assert without.loc["my-gain", "p_holm"] == 2 * without.loc["my-gain", "p_value"]


def test_docstrings_are_left_out_only_where_they_stand_on_lines_of_their_own():
    from plugins.methods.planted_data import _without_docstrings

    assert _without_docstrings('def f(x):\n    """doc\n    more"""\n\n    return x\n') == "def f(x):\n    return x\n"
    nested = 'class A:\n    "doc"\n    def g(self):\n        """g"""\n        return 2\n'
    assert _without_docstrings(nested) == "class A:\n    def g(self):\n        return 2\n"
    for kept in ('def f(): "d"; return 1\n', 'def f():\n    """only a docstring"""\n', "def f(:\n"):
        assert _without_docstrings(kept) == kept  # same line as code, the whole body, not Python
