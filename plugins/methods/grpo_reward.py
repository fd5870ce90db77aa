"""GRPO's reward: the share of a task's unit tests a completion passes, judged in the project's sandbox.

One `SandboxReward` serves a whole training run: one sandbox pool (started on the first call, closed by `close`),
each call's completions checked as one batch on it, results cached by content (benchmark context, task, program;
the verdict cache's rules), so a completion seen before is not run again. The checks are the `composite`
benchmark's own jobs (the HumanEval+ path: the sandbox returns outputs, the harness judges them, so a forged
verdict earns nothing), with every test input run (evalplus's `fast_check=False`, the job's `every_input`) so the
fraction is known; its pass/fail statuses are the ones `fgit-bench evaluate` gives.

Every call appends one JSON line per completion to `rewards.jsonl` (step, task, raw completion, extracted program,
statuses, tests passed, reward, static flags) and reports reward mean, pass rate, seconds and flagged count as
trainer metrics.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from harness.core.atomic import append_jsonl, write_json
from harness.core.hashing import json_digest

# Static red flags of reward hacking (seed-methods.md §3: exiting early, objects equal to anything, patching the
# test machinery). They are logged, never used to decide a reward: the verdict alone decides.
_FLAGS = {
    "exit": re.compile(r"\b(sys\.exit|os\._exit|exit\(|quit\(|os\.kill|signal\.)"),
    "eq_override": re.compile(r"def\s+__(eq|ne|hash)__"),
    "builtins_patch": re.compile(r"\b(builtins|__builtins__)\b"),
    "frame_access": re.compile(r"\b(sys\._getframe|inspect\.|f_locals|f_back|gc\.get_objects)"),
    "module_patch": re.compile(r"\bsys\.modules\b|\bimportlib\b"),
}


def static_flags(program: str) -> list[str]:
    """The reward log's regex flags and `evaluate`'s static gaming flags (harness/flags.py: report channel,
    harness objects, operators, own memory, cross-sample state...), one sorted list."""
    from harness.flags import gaming_flags

    return sorted({name for name, pattern in _FLAGS.items() if pattern.search(program)} | set(gaming_flags(program)))


class SandboxReward:
    """Callable as a trl reward function: (prompts, completions, task_id=[...], ...) -> rewards."""

    __name__ = "unit_tests"  # trl names the reward metric after the function

    def __init__(self, tasks: dict[str, dict], template, *, all_or_nothing: bool = False, sandbox: str = "auto",
                 jobs: int = 1, log_path: Path | None = None, cache_dir: Path | None = None,
                 executor: str = "local", ray_address: str | None = None):
        from harness.benchmarks.base import Dataset
        from harness.benchmarks.composite import CompositeBenchmark
        from harness.core.data import cache_root

        self.benchmark = CompositeBenchmark(subset="train")
        self.dataset = Dataset(name="SynthComposite-train", version="grpo", hash=json_digest(tasks)[:32],
                               path="<training set>", problems=tasks)
        self.template = template
        self.all_or_nothing = all_or_nothing
        self.sandbox_name, self.jobs = sandbox, jobs
        self.executor, self.ray_address = executor, ray_address  # ray: reward batches go to the cluster's nodes
        self.log_path = log_path
        self.cache_root = Path(cache_dir or cache_root())
        self._sandbox = None
        self._oracle: dict = {}
        self.calls = 0

    # ---- the sandbox, started once --------------------------------------------------------------------------

    def sandbox(self):
        if self._sandbox is None:
            from harness.evaluation import make_check_sandbox

            self._sandbox = make_check_sandbox(self.executor, self.sandbox_name, self.jobs,
                                               self.benchmark.environment, self.benchmark.sandbox_limits(),
                                               announce=False, ray_address=self.ray_address)
        return self._sandbox

    def describe(self) -> dict:
        return self.sandbox().describe()

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def _context(self) -> dict:
        from harness.core import provenance

        versions = provenance.package_versions()
        return {"benchmark": self.benchmark.name, "dataset": self.dataset.hash, "limits": self.benchmark.limits_key(),
                "sandbox": self.sandbox().machine_key(), "every_input": True, "evalplus": versions.get("evalplus"),
                "fgit-bench": versions.get("fgit-bench")}

    # ---- programs and checks --------------------------------------------------------------------------------

    def program(self, task_id: str, completion: str) -> str:
        """The program evaluation would run for this raw completion (stop strings, evalplus's sanitizer)."""
        from harness.generation.base import cut_at_stop
        from harness.generation.prompts import extract

        problem = self.dataset.problems[task_id]
        raw = cut_at_stop(completion, self.template.stop)
        solution, completion_text = extract(self.template, self.benchmark.prompt(problem), raw, problem["entry_point"])
        return self.benchmark.postprocess({"solution": solution}, problem)

    def check(self, pairs: list[tuple[str, str]]) -> list[dict]:
        """Outcomes ({base_status, plus_status, passed, total}) of (task_id, program) pairs, as one batch."""
        from harness.evaluation import VerdictCache

        cache = VerdictCache(self.cache_root / "rewards")
        context = self._context()
        keys = [json_digest({**context, "task_id": t, "solution": p}) for t, p in pairs]
        outcomes: dict[str, dict] = {}
        for key in set(keys):
            try:
                import json

                outcomes[key] = json.loads(cache._path(key).read_text())
            except (OSError, ValueError):
                pass
        todo = {}
        for key, (task_id, program) in zip(keys, pairs, strict=True):
            if key not in outcomes and key not in todo:
                todo[key] = (task_id, program)
        missing = sorted({t for t, _ in todo.values()} - set(self._oracle))
        if missing:
            self._oracle.update(self.benchmark.prepare(self.dataset, missing, self.sandbox(), self.cache_root))
        if todo:
            jobs = {key: self.benchmark.check_job(self.dataset, self._oracle, t, p) for key, (t, p) in todo.items()}
            for job in jobs.values():
                job.payload["every_input"] = True  # every input runs: the reward is the share passed
            order = list(jobs)
            function = next(iter(jobs.values())).function
            results = self.sandbox().run(function, [jobs[k].payload for k in order],
                                         [jobs[k].timeout for k in order], [jobs[k].cost for k in order])
            for index, result in results:
                key = order[index]
                outcome = self._outcome(todo[key][0], result)
                write_json(cache._path(key), outcome, indent=None)
                outcomes[key] = outcome
        return [outcomes[key] for key in keys]

    def _outcome(self, task_id: str, result) -> dict:
        problem = self.dataset.problems[task_id]
        total = len(problem["base_input"]) + len(problem["plus_input"])
        verdict = self.benchmark.verdict(self.dataset, task_id, result)
        passed = self.benchmark.tests_passed(self.dataset, task_id, result)
        solved = verdict.base_status == "pass" and verdict.plus_status == "pass"
        if not solved:
            passed = min(passed, total - 1)  # a failed check never earns the full reward
        return {"base_status": verdict.base_status, "plus_status": verdict.plus_status, "passed": passed,
                "total": total, "detail": verdict.detail}

    def reward(self, outcome: dict) -> float:
        solved = outcome["base_status"] == "pass" and outcome["plus_status"] == "pass"
        if self.all_or_nothing:
            return 1.0 if solved else 0.0
        return outcome["passed"] / outcome["total"] if outcome["total"] else float(solved)

    # ---- the trl reward function ----------------------------------------------------------------------------

    def __call__(self, prompts=None, completions=None, task_id=None, trainer_state=None, log_metric=None,
                 **_ignored) -> list[float]:
        started = time.perf_counter()
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        programs = [self.program(t, text) for t, text in zip(task_id, texts, strict=True)]
        outcomes = self.check(list(zip(task_id, programs, strict=True)))
        rewards = [self.reward(o) for o in outcomes]
        seconds = time.perf_counter() - started
        step = trainer_state.global_step if trainer_state is not None else self.calls
        flags = [static_flags(p) for p in programs]
        self.calls += 1
        if self.log_path is not None:
            for t, text, program, outcome, reward, flag in zip(task_id, texts, programs, outcomes, rewards, flags,
                                                               strict=True):
                append_jsonl(self.log_path, {"step": step, "call": self.calls, "task_id": t, "completion": text,
                                             "solution": program, "reward": reward, "flags": flag, **outcome})
        if log_metric is not None:
            log_metric("reward_pass_rate", sum(r == 1.0 for r in rewards) / max(len(rewards), 1))
            log_metric("reward_seconds", seconds)
            log_metric("reward_flagged", float(sum(bool(f) for f in flags)))
        return rewards
