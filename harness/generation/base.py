"""The generation backend protocol and the records that cross it.

A backend turns rendered prompts into raw model text. It is built cheaply (no weights loaded) so that a run whose
outputs are all cached never loads a model: `identity()` must be cheap, `render()` and `generate()` may load lazily.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from harness.core.registry import Registry

BACKENDS: Registry = Registry("generation backend", "harness.generation.base:Backend", package="harness.generation",
                              markers=("BACKENDS.register",), group="fgit_bench.backends")

BATCH_MODES = ("plain", "invariant")


@dataclass(frozen=True)
class DecodingConfig:
    """Decoding settings. Everything that can change an output goes into the cache key (see `key_fields`).

    Greedy (temperature 0, one sample per task) is the default and keeps the keys it always had. Sampling
    (temperature > 0): `n_samples` samples per task, sample i drawn with its own random stream seeded from
    (seed, task, i) (`harness.generation.sampling`), so it depends on nothing else: not on the batch, the other
    tasks or samples in it, the shard or a resume."""

    max_new_tokens: int = 768  # evalplus's default
    batch_size: int = 8
    batch_mode: str | None = None  # plain: ordinary padded batches; invariant: outputs independent of batching;
    # None: the backend's default (invariant for local models, plain for endpoints and replay)
    dtype: str | None = None  # None: float32 on CPU, bfloat16 on CUDA
    device: str | None = None  # None: cuda when available, else cpu
    row_block: int | None = None  # invariant mode: fixed row count of every matmul call (None: per device)
    greedy: bool = True  # derived: temperature == 0 (kept as the key's first field)
    n_samples: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "greedy", self.temperature == 0)

    @property
    def sampling(self) -> bool:
        return not self.greedy

    def key_fields(self) -> dict:
        """The fields that determine outputs. Batch size only matters in plain mode (that is the point of invariant).
        Greedy: exactly the fields it always had. Sampling adds temperature, top-p and seed; the sample index is
        added per sample by the runner (so n is not in the key: sample i of n = 4 is sample i of n = 8)."""
        fields = {"greedy": self.greedy, "max_new_tokens": self.max_new_tokens, "batch_mode": self.batch_mode}
        if self.batch_mode == "plain":
            fields["batch_size"] = self.batch_size
        if self.sampling:
            fields |= {"temperature": self.temperature, "top_p": self.top_p, "seed": self.seed}
        return fields

    def recorded(self) -> dict:
        """The decoding as recorded in a sample row: the key's fields, plus n where there are several samples."""
        return self.key_fields() | ({"n_samples": self.n_samples} if self.n_samples > 1 else {})

    def check(self) -> None:
        """One line of bad input for settings that cannot be decoded."""
        from harness import settings

        settings.sampling("--", n_samples=self.n_samples, temperature=self.temperature, top_p=self.top_p)


@dataclass(frozen=True)
class BackendIdentity:
    """What a backend's outputs depend on, besides prompt and decoding: recorded in every sample and cache key."""

    backend: str
    model: str  # display name
    model_hash: str
    tokenizer: str  # tokenizer content hash (or a name where no tokenizer is local)
    chat_template: str | None  # None: the model has no chat template (a base model)
    engine: dict = field(default_factory=dict)  # library versions, device, dtype: anything else that moves outputs
    seq2seq: bool = False  # an encoder–decoder model (prompts are source→target: prompts.choose_style)


@dataclass(frozen=True)
class GenerationRequest:
    index: int  # position in the caller's list, echoed back
    prompt: str | list  # rendered prompt text, or chat messages for message-based APIs
    stop: tuple[str, ...] = ()
    task_id: str = ""
    templated: bool = False  # the prompt text came from the chat template (harness.tokenization: no added specials)
    sample: int = 0  # which of the task's n samples (sampling: selects its random stream)
    seed: int | None = None  # sampling: the per-row seed (harness.generation.sampling.row_seed); None: greedy


@dataclass(frozen=True)
class GenerationOutput:
    index: int
    text: str  # raw model text, cut at the first stop string
    n_tokens: int  # tokens generated (for tokens/s)
    batch_size: int  # the batch it was generated in (plain: that batch's rows; invariant: the slots in flight)
    notes: dict | None = None  # what the backend observed about this output (openai: whether the seed held)


OnOutput = Callable[[GenerationOutput], None]


class Backend:
    """Base class of generation backends. Subclasses register with `@BACKENDS.register(name)`."""

    name = "?"
    cacheable = True  # replay reads a file: caching it would only duplicate the file
    default_batch_mode = "plain"
    can_prefill = True  # chat: the assistant turn can be pre-filled (not over a messages API)
    fixed_style: str | None = None  # a prompt style the backend imposes (replay: texts are whole answers)
    batch_moves_outputs = True  # False where our batch size cannot change outputs (an endpoint batches as it likes)
    loads = 0  # class-wide count of model loads; tests use it to prove that a full cache hit loads nothing

    def __init__(self, model: str | None, decoding: DecodingConfig, options: dict | None = None):
        self.model_ref = model
        self.decoding = decoding
        self.options = options or {}

    def identity(self) -> BackendIdentity:
        """Cheap: must not load model weights (it may read memoised tokenizer facts)."""
        raise NotImplementedError

    def render(self, template, task_prompt: str) -> str | list:
        """The exact model input for one task under `template` (a `prompts.PromptTemplate`)."""
        raise NotImplementedError

    def generate(self, requests: list[GenerationRequest], on_output: OnOutput, batch_size: int | None = None) -> None:
        """Generate every request with `self.decoding` (the runner sets it per run), calling `on_output` as each
        finishes, so finished work is saved at once. `batch_size` overrides the configured one."""
        raise NotImplementedError

    def close(self) -> None:
        """Release models and connections."""


def default_row_block(device_type: str) -> int:
    """Invariant mode's rows per matmul call. CPU: 8 (a BLAS register tile; 8 rows cost about what 1 costs, the
    weights being read once); GPU: 32 (decoding is bandwidth-bound there, extra rows are free)."""
    return 32 if device_type == "cuda" else 8


def cut_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """Text before the earliest stop string, as evalplus and bigcodebench post-process (tabs become 4 spaces)."""
    end = len(text)
    for s in stop:
        at = text.find(s)
        if at != -1:
            end = min(end, at)
    return text[:end].replace("\t", "    ")
