"""`composite`: the synthetic composite tasks (harness.synth) scored like HumanEval+.

Differential testing against the reference's outputs with evalplus's comparison semantics, on the very job path
of HumanEval+/MBPP+ (this class is an `EvalPlusBenchmark`: ground truth measured in the sandbox, `evalplus_outputs`
jobs whose outputs the harness judges, the same verdicts, time limits and verdict cache), so every hardening of that path applies here too.
The base tests are the task's first inputs (its docstring examples among them), the plus tests the rest.

Subsets: `full` (default) = the held-out tasks (`test` + `atoms-held-out`: the target-domain generalisation the
source measures), `test`, `atoms-held-out`, or `train` (the training tasks: to score a training run's own
completions). The task set is `$FGIT_BENCH_SYNTH` or the default one (harness.synth.store).
"""

from __future__ import annotations

from pathlib import Path

from harness.benchmarks.base import BENCHMARKS, Dataset
from harness.benchmarks.evalplus_tasks import EvalPlusBenchmark
from harness.core.errors import InfraError
from harness.synth.inputs import canonical
from sandboxes.base import Sandbox

SUBSETS = {"full": ("test", "atoms-held-out"), "test": ("test",), "atoms-held-out": ("atoms-held-out",),
           "train": ("train",)}


def problems_from_rows(rows: list[dict]) -> dict[str, dict]:
    """Synth task rows (train.jsonl / test.jsonl) as evalplus-style problems."""
    return {r["task_id"]: {**r["task"], "split": r["split"], "kind": r["kind"], "chain": r["chain"]} for r in rows}


@BENCHMARKS.register("composite")
class CompositeBenchmark(EvalPlusBenchmark):
    name = "composite"
    dataset_name = "composite"  # no evalplus special oracle applies
    release = "SynthComposite"
    option_choices = {"subset": tuple(SUBSETS), "split": ("complete",)}
    in_default_run = False  # a run lists it explicitly
    # synthetic: its train/test split is disjoint by construction (harness.synth.build), nothing to check
    decontaminate_against = False
    decontaminate_by_default = False

    def load(self, data_dir: Path | None) -> Dataset:
        from harness.synth.store import read_tasks, synth_dir

        directory = synth_dir()
        splits = SUBSETS[self.options["subset"]]
        files = ("train.jsonl",) if splits == ("train",) else ("test.jsonl",)
        rows = [r for name in files for r in read_tasks(directory, name) if r["split"] in splits]
        import json

        manifest = json.loads((directory / "manifest.json").read_text())
        version = f"seed{manifest['seed']}-{self.options['subset']}"
        return Dataset(name=f"{self.release}-{self.options['subset']}", version=version,
                       hash=manifest["files"][files[0]][:32], path=str(directory / files[0]),
                       problems=problems_from_rows(rows))

    @property
    def result_name(self) -> str:
        return self.name if self.options["subset"] == "full" else f"{self.name}-{self.options['subset']}"

    def prepare(self, dataset: Dataset, task_ids: list[str], sandbox: Sandbox, cache_dir: Path) -> dict:
        """The sandbox's ground truth, which must equal the outputs the task file records (synth computed them
        the same way): a difference means the file or the sandbox changed, and no verdict would be meaningful."""
        oracle = super().prepare(dataset, task_ids, sandbox, cache_dir)
        for task_id in task_ids:
            problem = dataset.problems[task_id]
            for split in ("base", "plus"):
                if canonical(list(oracle[task_id][split])) != canonical(problem[f"expected_{split}"]):
                    raise InfraError(f"{task_id}: the reference's {split} outputs in this sandbox differ from the "
                                     f"task file's ({dataset.path})")
        return oracle
