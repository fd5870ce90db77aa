"""The comparison run: for every variant, train (plugin) → generate → evaluate (sandbox); then the leaderboard.

Layout of a run directory (each stage reads the previous stage's files and writes its own):

    RUN_DIR/manifest.json                      provenance of the whole run (rewritten after every run)
    RUN_DIR/<variant>/artifact/                the training plugin's artifact (hard links into the artifact cache)
    RUN_DIR/<variant>/train.stage.json         stage records: input hash, seconds, info
    RUN_DIR/<variant>/<benchmark>/samples.jsonl
    RUN_DIR/<variant>/<benchmark>/eval/{eval_results.json,results.jsonl}

With `--shard i/n` the per-benchmark files go to `<variant>/<benchmark>/shards/i-of-n/` and hold every n-th task;
`fgit-bench merge` joins them into the layout above.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.app.pipeline.chaining import check_chains, start_model
from harness.app.pipeline.config import (
    BenchmarkSpec,
    RunConfig,
    check_plugin_tables,
    generation_key,
    training_data_path,
)
from harness.app.pipeline.executor import LocalExecutor, StageExecutor, make_stage_executor
from harness.app.pipeline.manifest import write_manifest
from harness.app.pipeline.stages import StageRecord, run_stage
from harness.core.config import to_dict
from harness.core.errors import BadInput
from harness.core.hashing import file_digest, json_digest

Log = Callable[[str], None]

EVAL_OUTPUTS = ("eval/results.jsonl", "eval/eval_results.json")  # what the leaderboard and the gate read


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as the user writes it: --shard 1/4
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise BadInput(f"--shard must look like i/n (e.g. 1/4), got {text!r}") from None
        if not 1 <= index <= count:
            raise BadInput(f"--shard {text}: need 1 <= i <= n")
        return cls(index, count)

    @property
    def label(self) -> str:
        return f"{self.index}-of-{self.count}"

    def select(self, task_ids: list[str]) -> list[str]:
        return task_ids[self.index - 1 :: self.count]


@dataclass
class BenchmarkPlan:
    spec: BenchmarkSpec
    task_ids: list[str]
    loaded: object  # harness.benchmarks.base.Dataset, loaded once: every variant's evaluation reads it
    benchmark: object  # harness.benchmarks.base.Benchmark (with the spec's options)

    @property
    def environment(self) -> str:
        return self.benchmark.environment

    @property
    def limits(self):  # sandboxes.base.Limits of this benchmark
        return self.benchmark.sandbox_limits()

    @property
    def dataset(self) -> dict:
        return {"name": self.loaded.name, "version": self.loaded.version, "hash": self.loaded.hash}

    @property
    def label(self) -> str:
        return self.spec.label


@dataclass
class RunResult:
    run_dir: Path
    stages: list[dict] = field(default_factory=list)
    skipped_benchmarks: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _stderr(message: str) -> None:
    print(f"fgit-bench run: {message}", file=sys.stderr, flush=True)


def _environment_ready(sandbox: str, environment: str) -> tuple[bool, str]:
    from sandboxes import AUTO_ORDER, check_backend
    from sandboxes.environments import get_environment

    names = AUTO_ORDER if sandbox == "auto" else (sandbox,)
    reasons = []
    for name in names:
        ok, why = check_backend(name, environment)
        if ok and name != "docker":  # the host backends would build a missing environment: never for an optional one
            ok, why = get_environment(environment).host_ready()
        if ok:
            return True, why
        reasons.append(f"{name}: {why}")
    return False, "; ".join(reasons)


def plan_benchmarks(config: RunConfig, log: Log) -> tuple[list[BenchmarkPlan], dict[str, str]]:
    """Load each benchmark (upstream loader), fix its task slice; optional ones without an environment are
    skipped with the reason."""
    from harness.benchmarks import get_benchmark
    from harness.core.data import data_dir

    plans, skipped = [], {}
    labels = [spec.label for spec in config.benchmarks]
    if len(set(labels)) != len(labels):
        raise BadInput(f"benchmarks listed twice: {labels}")
    for spec in config.benchmarks:
        benchmark = get_benchmark(spec.name, **spec.benchmark_options())
        if spec.optional:
            ok, why = _environment_ready(config.sandbox, benchmark.environment)
            if not ok:
                skipped[spec.label] = f"environment {benchmark.environment!r} not available: {why}"
                log(f"{spec.label}: skipped ({skipped[spec.label]})")
                continue
        dataset = benchmark.load(data_dir(config.data_dir))
        task_ids = list(dataset.problems)
        if spec.tasks:
            from harness.generation.tasks import select_task_ids

            chosen = set(select_task_ids(task_ids, spec.tasks, spec.label))
            task_ids = [t for t in task_ids if t in chosen]  # release order, as evaluation reports them
        if spec.limit is not None:
            if spec.limit < 1:
                raise BadInput(f"benchmark {spec.label}: limit must be at least 1")
            task_ids = task_ids[: spec.limit]
        plans.append(BenchmarkPlan(spec, task_ids, dataset, benchmark))
    if not plans:
        raise BadInput("no benchmark to run (all were skipped)")
    return plans, skipped


class ComparisonRun:
    """One `fgit-bench run`: holds the loaded pieces that stages share (plugins, sandboxes, training data)."""

    def __init__(self, config: RunConfig, run_dir: Path, shard: Shard | None = None, log: Log = _stderr,
                 profile: str | None = None, sweeps: list[dict] | None = None,
                 executor: StageExecutor | None = None):
        from harness.app.pipeline.grid import plan_units
        from plugins.api import PLUGINS

        self.config, self.run_dir, self.shard, self.log, self.profile = config, Path(run_dir), shard, log, profile
        # A variant is a plugin or an instance of one, swept, per seed and per model: the run's units
        # (harness.app.pipeline.grid). `from = "sft"` trains a unit from its upstream unit's artifact (chaining).
        check_chains(config)
        self.units = plan_units(config, sweeps)  # did-you-mean on a typo, bad sweeps and chains: before any work
        self.extra_sweeps = list(sweeps or [])
        self.plugin_classes = {u.id: PLUGINS.get(u.plugin) for u in self.units}
        check_plugin_tables(config, list(self.plugin_classes.values()))
        self.plugin_configs = {u.id: u.config for u in self.units}
        self._examples = None
        self._training_inputs: dict | None = None
        self.resolved: dict[str, dict] = {}
        self._sandboxes: dict[str, object] = {}
        self._models: dict[str, dict] = {}
        self.records: list[dict] = []
        # where stage work runs (harness.app.pipeline.executor): [execution] executor
        self.executor = executor or make_stage_executor(config.execution)

    # ---- inputs shared by the stages ----------------------------------------------------------------------

    def model_identity(self, ref: str | None = None) -> dict:
        from harness.models import resolve_model

        ref = ref or self.config.model
        if ref not in self._models:  # hashed once per run
            self._models[ref] = {"ref": ref, "hash": resolve_model(ref).content_hash()}
        return self._models[ref]

    def unit(self, unit_id: str):
        return next(u for u in self.units if u.id == unit_id)

    def training_data_path(self) -> Path:
        return training_data_path(self.config.training.data, self.config.data_dir)

    def training_inputs(self) -> dict:
        if self._training_inputs is None:  # the same for every variant: the data file is hashed once per run
            settings = self.config.training
            self._training_inputs = {
                "data": file_digest(self.training_data_path()), "limit": settings.limit,
                "decontaminate": [p.spec.name for p in self.plans] if settings.decontaminate else []}
        return self._training_inputs

    def training_examples(self) -> tuple[list, dict]:
        if self._examples is None:
            from harness.core.data import cache_root
            from plugins.training.training_data import prepare_training_set

            settings = self.config.training
            self._examples = prepare_training_set(
                str(self.training_data_path()), limit=settings.limit,
                benchmarks=self.training_inputs()["decontaminate"], data_dir=self.config.data_dir,
                cache_dir=cache_root())
        return self._examples

    def sandbox(self, plan: BenchmarkPlan):
        """One sandbox (workers, containers) per environment and limits, shared by every variant of the run."""
        from harness.evaluation import make_check_sandbox

        key = json_digest({"environment": plan.environment, "limits": repr(plan.limits)})
        if key not in self._sandboxes:
            execution = self.config.execution
            self._sandboxes[key] = make_check_sandbox(execution.executor, self.config.sandbox, self.config.jobs,
                                                      plan.environment, plan.limits,
                                                      ray_address=execution.ray_address)
        return self._sandboxes[key]

    def close(self) -> None:
        for sandbox in self._sandboxes.values():
            sandbox.close()
        self._sandboxes.clear()
        self.executor.close()

    def __getstate__(self) -> dict:
        """What a stage's work carries to another node (the ray stage executor): no sandbox pools, no executor."""
        state = dict(self.__dict__)
        state["_sandboxes"], state["executor"] = {}, LocalExecutor()
        return state

    # ---- the stages -----------------------------------------------------------------------------------------

    def _record(self, variant: str, benchmark: str | None, record: StageRecord, folder: Path) -> StageRecord:
        where = folder.relative_to(self.run_dir)  # outputs by their path in the run directory (manifest)
        self.records.append({"variant": variant, "benchmark": benchmark, "stage": record.stage,
                             "seconds": record.seconds, "cached": record.cached, "key": record.key,
                             "info": record.info,
                             "outputs": {(where / name).as_posix(): d for name, d in record.outputs.items()}})
        return record

    def train(self, variant: str, model: dict) -> StageRecord:
        from harness.models import resolve_model
        from plugins.training.artifact_cache import train_cached

        cls, unit = self.plugin_classes[variant], self.unit(variant)
        needs_data = cls.needs_data
        start = start_model(self, variant, model)  # the base model, or the artifact of the unit it starts from
        # what the artifact key holds as resolved now (the plugins' `resolve`), besides the training set
        inputs = {"plugin": unit.plugin, "model": start["hash"], "config": to_dict(self.plugin_configs[variant]),
                  "data": self.training_inputs() if needs_data else None}
        if self.resolved.get(variant):  # models the config's names resolved to here (plugins.api.resolve)
            inputs["resolved"] = self.resolved[variant]
        out = self.run_dir / variant / "artifact"

        def work() -> dict:
            if (out / "artifact.json").is_file():  # an earlier run's artifact (links into the cache): the inputs
                shutil.rmtree(out)  # changed, so it is replaced, never mistaken for this one
            examples, extra = [], {}
            if needs_data:
                examples, report = self.training_examples()
                extra["data_report.json"] = report
            path, cached = train_cached(unit.plugin, resolve_model(start["ref"]), examples,
                                        self.plugin_configs[variant], output=out, extra_files=extra,
                                        upstream=start["hash"] if start.get("from") else None)
            manifest = json.loads((path / "artifact.json").read_text())
            info = {"artifact": manifest.get("cache_key"), "kind": manifest.get("kind"), "from_cache": cached,
                    "from": start.get("from")}
            for key in (*cls.manifest_keys, "resolved"):  # the plugin's own records (its manifest_keys), what was resolved
                if key in manifest:
                    info[key] = manifest[key]
            return info

        return self._record(variant, None, run_stage(f"{variant}: train", self.run_dir / variant / "train.stage.json",
                                                     inputs, work, self.log, self.executor, outputs=("artifact",)),
                            self.run_dir / variant)

    def resolve_plugins(self) -> dict[str, dict]:
        """Every unit's `resolve` before anything trains: a model a config names but this machine lacks is
        one BadInput line (all units' problems together), not a failure after hours of other units."""
        from harness.models import resolve_model

        resolved, problems = {}, []
        for unit in self.units:
            try:
                resolved[unit.id] = self.plugin_classes[unit.id]().resolve(resolve_model(unit.model),
                                                                          self.plugin_configs[unit.id])
            except BadInput as exc:
                problems.append(f"{unit.id}: {exc}")
        if problems:
            raise BadInput("nothing trained: " + "; ".join(problems))
        return resolved

    def benchmark_dir(self, variant: str, plan: BenchmarkPlan) -> Path:
        base = self.run_dir / variant / plan.label
        return base / "shards" / self.shard.label if self.shard else base

    def task_ids(self, plan: BenchmarkPlan) -> list[str]:
        return self.shard.select(plan.task_ids) if self.shard else plan.task_ids

    def generate(self, variant: str, plan: BenchmarkPlan, artifact_key: str, backend_holder: dict) -> StageRecord:
        from harness.core.atomic import write_jsonl
        from harness.generation import DecodingConfig, GenerateConfig, generate_samples
        from harness.generation.cache import GenerationCache
        from harness.generation.runner import make_backend, resolve

        settings = self.config.generation
        directory = self.benchmark_dir(variant, plan)
        tasks = self.task_ids(plan)
        inputs = {"artifact": artifact_key, "benchmark": plan.label, "dataset": plan.dataset["hash"],
                  "tasks": tasks, "generation": generation_key(settings)}
        unit = self.unit(variant)
        replay = settings.samples_from and settings.samples_from.format(
            variant=variant, name=unit.name, plugin=unit.plugin, benchmark=plan.label)
        if replay:  # replayed text: the file's content, not its name, decides the outputs
            inputs["replay"] = file_digest(replay) if Path(replay).is_file() else replay
        gen_config = GenerateConfig(
            model=str(self.run_dir / variant / "artifact"), benchmark=plan.spec.name,
            options=plan.spec.benchmark_options(), tasks=tasks, data_dir=self.config.data_dir,
            backend=settings.backend,
            decoding=DecodingConfig(max_new_tokens=settings.max_new_tokens, batch_size=settings.batch_size,
                                    batch_mode=settings.batch_mode, dtype=settings.dtype,
                                    n_samples=settings.n_samples, temperature=settings.temperature,
                                    top_p=settings.top_p, seed=settings.seed),
            samples_from=replay or None,
            progress=sys.stderr.isatty())

        def work() -> dict:
            config = resolve(gen_config)
            key = config.samples_from or ""  # one loaded model per variant, shared by its benchmarks
            if key not in backend_holder:
                backend_holder.clear()
                backend_holder[key] = make_backend(config, GenerationCache(config.cache_dir))
            result = generate_samples(config, backend=backend_holder[key], dataset=plan.loaded)
            write_jsonl(directory / "samples.jsonl", result.rows)
            tasks_done = len({r["task_id"] for r in result.rows})
            return {"tasks": tasks_done, **({"samples": len(result.rows)} if len(result.rows) != tasks_done else {}),
                    "cached": result.cached, "generated": result.generated,
                    "tokens": result.tokens}

        return self._record(variant, plan.label, run_stage(f"{variant}/{plan.label}: generate",
                                                           directory / "generate.stage.json", inputs, work, self.log,
                                                           self.executor, outputs=("samples.jsonl",)), directory)

    def evaluate(self, variant: str, plan: BenchmarkPlan) -> StageRecord:
        from harness.evaluation import EvaluateConfig, evaluate, verdict_context

        directory = self.benchmark_dir(variant, plan)
        samples = directory / "samples.jsonl"
        # the verdict cache's own key context (resolved backend and image, limits, versions, machine): a stage is
        # cached only where every verdict under it would be
        inputs = {"samples": file_digest(samples), "benchmark": plan.label, "tasks": self.task_ids(plan),
                  "verdicts": verdict_context(plan.benchmark, plan.loaded, self.sandbox(plan))}

        def work() -> dict:
            cfg = EvaluateConfig(benchmark=plan.spec.name, samples=str(samples), output=str(directory / "eval"),
                                 jobs=self.config.jobs, sandbox=self.config.sandbox, tasks=self.task_ids(plan),
                                 data_dir=self.config.data_dir, subset=plan.spec.subset, split=plan.spec.split)
            summary = evaluate(cfg, sandbox=self.sandbox(plan), quiet=True, dataset=plan.loaded)
            return {"tasks": summary.n_tasks, "base_pass": summary.base_pass, "plus_pass": summary.plus_pass,
                    "executed": summary.executed, "excluded": summary.excluded}

        return self._record(variant, plan.label, run_stage(f"{variant}/{plan.label}: evaluate",
                                                           directory / "evaluate.stage.json", inputs, work, self.log,
                                                           self.executor, outputs=EVAL_OUTPUTS), directory)

    # ---- the whole run --------------------------------------------------------------------------------------

    def run(self) -> RunResult:
        started = time.perf_counter()
        model = self.model_identity()
        self.resolved = self.resolve_plugins()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.plans, skipped = plan_benchmarks(self.config, self.log)
        slices = {p.spec.name: list(p.task_ids) for p in self.plans}  # what a planted control trains on
        for unit in self.units:
            self.plugin_configs[unit.id] = self.plugin_classes[unit.id]().for_run(self.plugin_configs[unit.id], slices)
        try:
            for unit in self.units:
                variant = unit.id
                trained = self.train(variant, self.model_identity(unit.model))
                backend_holder: dict = {}
                for plan in self.plans:
                    self.generate(variant, plan, trained.info["artifact"], backend_holder)
                    self.evaluate(variant, plan)
                backend_holder.clear()  # free the variant's model before the next one loads
        finally:
            self.close()
        result = RunResult(self.run_dir, self.records, skipped, round(time.perf_counter() - started, 3))
        write_manifest(self, model, result)
        return result
