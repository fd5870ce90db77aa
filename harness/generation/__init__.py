"""Greedy code generation: backends (hf, vllm, openai, replay), upstream prompting and extraction, a
content-addressed cache, and a batch-invariant decoding mode. `fgit-bench generate` is the command line."""

from harness.generation.base import BACKENDS, Backend, DecodingConfig  # noqa: F401
from harness.generation.runner import GenerateConfig, check_batch_invariance, generate_samples  # noqa: F401
from harness.generation.tasks import task_prompts  # noqa: F401
