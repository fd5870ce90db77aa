"""GRPO: RL from unit-test rewards (seed-methods.md §3) with trl's `GRPOTrainer`.

Prompts are the tasks' prompts rendered exactly as evaluation renders them (harness.generation.prompts: chat
template with the pre-filled python fence, or direct completion for base models); the reward is the share of the
task's tests the completion passes in the sandbox (`reward = "all"`: 1 only when all pass), computed by
`plugins.methods.grpo_reward.SandboxReward` through one sandbox pool for the whole run. Defaults follow the SED-SFT RL
stage: 8 rollouts per prompt, KL coefficient 0 (no reference model), clipping 0.2 / 0.28, lr 1e-6, and rollouts
whose advantage is zero are dropped from the loss (a prompt whose rollouts all pass or all fail carries no signal;
trl's "dapo" loss then normalises over the remaining tokens only).

Training rows need a task with tests (`fgit-bench synth`'s train.jsonl); LoRA or full fine-tuning as the other
plugins (`TrainingConfig`). Generation inside GRPO: vLLM where it is installed and CUDA is present (`use_vllm =
"auto"`), HF generate otherwise; the artifact records which.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.errors import BadInput
from harness.models import ModelSpec
from plugins.api import TrainingExample, TrainingPlugin, register
from plugins.training.artifact_saving import (
    load_for_training,
    log_callback,
    lora_config,
    resume_checkpoint,
    save_artifact,
)
from plugins.training.trainer import TrainingConfig, trainer_classes, training_arguments


@dataclass
class GRPOVariantConfig(TrainingConfig):
    """`TrainingConfig` plus GRPO's own settings; `[grpo]` in the TOML config."""

    learning_rate: float = field(default=1e-6, metadata={"help": "SED-SFT's RL stage: 1e-6"})
    num_generations: int = field(default=8, metadata={"help": "rollouts per prompt"})
    max_new_tokens: int = field(default=512, metadata={"help": "longest completion"})
    temperature: float = field(default=1.0, metadata={"help": "sampling temperature of the rollouts"})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient (0: no reference model)"})
    epsilon: float = field(default=0.2, metadata={"help": "lower clip of the importance ratio"})
    epsilon_high: float = field(default=0.28, metadata={"help": "upper clip (DAPO's clip-higher)"})
    loss_type: str = field(default="dapo", metadata={"help": "any trl GRPO loss_type"})
    reward: str = field(default="fraction", metadata={"help": "fraction (share of tests passed) | all (all-or-nothing)"})
    drop_zero_advantage: bool = field(default=True, metadata={"help": "leave zero-advantage rollouts out of the loss"})
    use_vllm: str = field(default="auto", metadata={"help": "auto | true | false: vLLM generation inside GRPO"})
    sandbox: str = field(default="auto", metadata={"help": "where rewards are computed"})
    reward_jobs: int = field(default_factory=lambda: os.cpu_count() or 1, metadata={"help": "sandbox workers"})
    executor: str = field(default="local", metadata={"help": "local | ray: reward batches go to a Ray cluster's "
                                                             "CPU nodes, each checking in its own sandbox"})
    ray_address: str | None = field(default=None, metadata={"help": "the Ray cluster (default: $RAY_ADDRESS)"})

    def __post_init__(self):
        super().__post_init__()
        if self.reward not in ("fraction", "all"):
            raise ValueError(f"reward must be 'fraction' or 'all', got {self.reward!r}")
        if self.executor not in ("local", "ray"):
            raise ValueError(f"executor must be local or ray, got {self.executor!r}")
        if self.use_vllm not in ("auto", "true", "false"):
            raise ValueError(f"use_vllm must be auto, true or false, got {self.use_vllm!r}")
        if self.num_generations < 2:
            raise ValueError("num_generations must be at least 2 (advantages compare rollouts of one prompt)")
        if (self.batch_size * self.gradient_accumulation_steps) % self.num_generations:
            raise ValueError(f"batch_size × gradient_accumulation_steps ({self.batch_size} × "
                             f"{self.gradient_accumulation_steps}) must be a multiple of num_generations "
                             f"({self.num_generations})")


def check_prompt_count(prompts: int, config: GRPOVariantConfig) -> None:
    """One generation batch (trl: batch_size × processes × steps_per_generation completions, steps_per_generation =
    gradient_accumulation_steps) takes batch_size × gradient_accumulation_steps / num_generations distinct prompts;
    trl's sampler yields whole batches only, so fewer prompts give an empty data loader (transformers then fails on
    max_steps, or with max_steps set loops over nothing). Refused here, before the model loads."""
    processes = int(os.environ.get("WORLD_SIZE", "1"))
    per_batch = config.batch_size * config.gradient_accumulation_steps * processes // config.num_generations
    if prompts < per_batch:
        raise BadInput(f"grpo: {prompts} prompts are fewer than one generation batch takes ({per_batch} = batch_size "
                       f"{config.batch_size} × gradient_accumulation_steps {config.gradient_accumulation_steps}"
                       f"{f' × {processes} processes' if processes > 1 else ''} / num_generations "
                       f"{config.num_generations}): lower batch_size × gradient_accumulation_steps to at most "
                       f"{prompts * config.num_generations // processes} or train on more prompts")


def vllm_wanted(setting: str) -> bool:
    if setting == "false":
        return False
    import torch

    available = importlib.util.find_spec("vllm") is not None and torch.cuda.is_available()
    if setting == "true" and not available:
        raise BadInput("use_vllm = true, but vLLM (with CUDA) is not available here")
    return available


@functools.lru_cache(maxsize=1)
def _grpo_trainer_class():
    from trl import GRPOTrainer

    schedule_mixin, _ = trainer_classes()

    class DroppingGRPOTrainer(schedule_mixin, GRPOTrainer):
        """Drops zero-advantage rollouts from the loss: with KL 0 they add no gradient, only weight in the
        token normaliser (for a whole all-pass/all-fail group that is DAPO's dynamic-sampling filter; a lone
        rollout exactly at its group's mean carries no signal either)."""

        drop_zero_advantage = True
        dropped_rollouts = 0

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            if self.drop_zero_advantage:
                keep = output["advantages"] != 0
                self.dropped_rollouts += int((~keep).sum())
                output["completion_mask"] = output["completion_mask"] * keep.unsqueeze(1).to(output["completion_mask"])
                output["num_items_in_batch"] = self.accelerator.gather(output["completion_mask"].sum()).sum()
                self._metrics["train"]["dropped_zero_advantage"].append(float((~keep).float().mean()))
            return output

    return DroppingGRPOTrainer


def task_table(examples: list[TrainingExample]) -> dict[str, dict]:
    tasks = {}
    for example in examples:
        task = example.meta.get("task")
        if isinstance(task, dict):
            tasks[task["task_id"]] = task
    return tasks


@register("grpo")
class GRPOPlugin(TrainingPlugin):
    name = "grpo"
    label = "GRPO"
    order = 60
    needs_data = True
    config_class = GRPOVariantConfig

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: GRPOVariantConfig,
              output_dir: Path) -> Path:
        import datasets
        from trl import GRPOConfig

        from harness.generation.prompts import choose_style, make_template
        from plugins.methods.grpo_reward import SandboxReward

        output_dir = Path(output_dir)
        tasks = task_table(examples)
        if not tasks:
            raise BadInput(f"grpo trains on tasks with tests: none of the {len(examples)} training rows has one "
                           "(use `fgit-bench synth`'s train.jsonl)")
        check_prompt_count(len(tasks), config)
        tokenizer, policy = load_for_training(model, config, wrap_lora=False)
        template_text = getattr(tokenizer, "chat_template", None)
        style = choose_style("auto", bool(template_text), {"fence": True})
        template = make_template(style, {"dataset": "composite", "fence": True}, template_text)
        reward = SandboxReward(tasks, template, all_or_nothing=config.reward == "all", sandbox=config.sandbox,
                               jobs=config.reward_jobs, log_path=output_dir / "rewards.jsonl",
                               executor=config.executor, ray_address=config.ray_address)
        from harness.benchmarks.composite import CompositeBenchmark

        bench = CompositeBenchmark(subset="train")
        rows = [{"prompt": template.render_text(bench.prompt(task), tokenizer), "task_id": task_id}
                for task_id, task in tasks.items()]
        use_vllm = vllm_wanted(config.use_vllm)
        args = training_arguments(
            config, output_dir, args_class=GRPOConfig, num_generations=config.num_generations,
            max_completion_length=config.max_new_tokens, temperature=config.temperature, beta=config.beta,
            epsilon=config.epsilon, epsilon_high=config.epsilon_high, loss_type=config.loss_type, use_vllm=use_vllm,
            log_completions=False)
        log = log_callback(output_dir / "train_log.jsonl", config.batch_size * config.gradient_accumulation_steps)
        trainer_class = _grpo_trainer_class()
        (output_dir / "rewards.jsonl").unlink(missing_ok=True)
        try:
            trainer = trainer_class(model=policy, reward_funcs=[reward], args=args, processing_class=tokenizer,
                                    train_dataset=datasets.Dataset.from_list(rows),
                                    peft_config=lora_config(config, policy) if config.lora else None, callbacks=[log])
            trainer.wsd_decay = config.wsd_decay
            trainer.drop_zero_advantage = config.drop_zero_advantage
            result = trainer.train(resume_from_checkpoint=resume_checkpoint(output_dir, log))
            sandbox_info = reward.describe()
        finally:
            reward.close()
        stats = {"examples": len(examples), "tasks": len(tasks), "steps": trainer.state.global_step,
                 "reward_calls": reward.calls, "dropped_zero_advantage": trainer.dropped_rollouts, **result.metrics}
        return save_artifact(trainer, tokenizer, model, config, output_dir, plugin=self.name, examples=examples,
                             stats=stats, manifest_extra={
                                 "generation_engine": "vllm" if use_vllm else "hf", "prompt_style": style,
                                 "reward": config.reward, "reward_sandbox": sandbox_info,
                                 "rewards_log": "rewards.jsonl"})
