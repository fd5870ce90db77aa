"""Batch-invariant greedy decoding for transformers models: a task's output never depends on its batch.

Why: with ordinary (padded) batching a task's greedy output changes with the batch size and with which tasks share
its batch: padding shifts the reductions inside attention, and BLAS kernels pick different code for 1, 5 or 8 rows,
so logits differ in the last bits and near-ties flip. Design: every operation that touches a task's data runs with
shapes that do not depend on the batch.

1. Prefill: each prompt alone (batch 1, no padding), so prompt processing is the batch-1 computation.
2. Attention: per sequence, over that sequence's own key/value buffer of its true length (a transformers attention
   function registered as `fgit_ragged`); no padding and no other sequence ever enters its softmax or sums.
3. Linear layers in decode steps (q/k/v/o, MLP, lm_head, LoRA layers too): rows go to the kernel in chunks of a
   fixed `row_block` rows, zero-padded, so the kernel always sees one shape whatever the batch.
4. Everything else is per row already (embedding, RMSNorm, RoPE, activations, argmax, and sampling: each row
   draws from its own generator seeded from (seed, task, sample index), harness/generation/sampling.py).
5. Continuous batching: a finished sequence leaves and the next prompt is prefilled into its slot.

The outputs are a function of (model, prompt, row_block, device and kernels) only: the same at batch 1 and batch B.
They can differ from `plain` batch 1, whose 1-row matmuls use a different kernel; compare variants in one mode.
"""

from __future__ import annotations

import contextlib
import contextvars
import types
from collections import deque
from collections.abc import Callable

import torch
import torch.nn.functional as F
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import AttentionInterface

from harness.core.errors import BadInput

ATTENTION_NAME = "fgit_ragged"
_ROW_BLOCK: contextvars.ContextVar[int | None] = contextvars.ContextVar("fgit_row_block", default=None)


class _Sequence:
    """One task in flight: its tokens and its own key/value buffers (one per layer, sized for the whole run)."""

    def __init__(self, index: int, prompt_ids: list[int], capacity: int, generator=None):
        self.index = index
        self.generator = generator  # sampling: this row's own random stream; None: greedy
        self.prompt_ids = prompt_ids
        self.tokens: list[int] = []  # generated so far
        self.length = 0  # positions already in the key/value buffers
        self.capacity = capacity
        self.keys: dict[int, torch.Tensor] = {}
        self.values: dict[int, torch.Tensor] = {}

    def buffers(self, layer: int, key: torch.Tensor, value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if layer not in self.keys:
            self.keys[layer] = key.new_empty((1, key.shape[1], self.capacity, key.shape[3]))
            self.values[layer] = value.new_empty((1, value.shape[1], self.capacity, value.shape[3]))
        return self.keys[layer], self.values[layer]


def _ragged_attention(module, query, key, value, attention_mask, dropout=0.0, scaling=None, fgit_batch=None, **kwargs):
    """Attention for a batch of sequences of different lengths, each computed exactly as it would be alone."""
    if fgit_batch is None:
        raise RuntimeError(f"{ATTENTION_NAME} attention runs only inside the batch-invariant decoder")
    layer = module.layer_idx
    new = query.shape[2]
    outputs = []
    for row, seq in enumerate(fgit_batch):
        keys, values = seq.buffers(layer, key, value)
        end = seq.length + new
        keys[:, :, seq.length : end].copy_(key[row : row + 1])
        values[:, :, seq.length : end].copy_(value[row : row + 1])
        out, _ = sdpa_attention_forward(
            module, query[row : row + 1], keys[:, :, :end], values[:, :, :end], None, dropout=0.0, scaling=scaling, **kwargs
        )
        outputs.append(out)
    return torch.cat(outputs), None


AttentionInterface.register(ATTENTION_NAME, _ragged_attention)


def _row_blocked_linear(self: torch.nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """nn.Linear.forward, but inside `_ROW_BLOCK` every kernel call has exactly `block` rows."""
    block = _ROW_BLOCK.get()
    if block is None:
        return F.linear(x, self.weight, self.bias)
    flat = x.reshape(-1, x.shape[-1])
    rows = flat.shape[0]
    pieces = []
    for start in range(0, rows, block):
        chunk = flat[start : start + block]
        if chunk.shape[0] < block:
            chunk = torch.cat([chunk, chunk.new_zeros(block - chunk.shape[0], chunk.shape[1])])
        pieces.append(F.linear(chunk, self.weight, self.bias))
    out = (torch.cat(pieces) if len(pieces) > 1 else pieces[0])[:rows]
    return out.reshape(*x.shape[:-1], out.shape[-1])


@contextlib.contextmanager
def invariant_model(model):
    """Switch `model` to ragged attention and row-blocked linear layers; restore it afterwards."""
    if hasattr(model, "_can_set_attn_implementation") and not model._can_set_attn_implementation():
        raise BadInput(
            f"batch-invariant mode needs a model that uses transformers' attention interface; "
            f"{type(model).__name__} does not (use --batch-mode plain)"
        )
    previous = model.config._attn_implementation
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    saved = {id(m): m.__dict__.get("forward") for m in linears}  # an instance-level forward (a hook) to restore
    model.set_attn_implementation(ATTENTION_NAME)
    for module in linears:
        module.forward = types.MethodType(_row_blocked_linear, module)
    try:
        yield model
    finally:
        for module in linears:
            if saved[id(module)] is None:
                del module.forward  # back to the class's forward
            else:
                module.forward = saved[id(module)]
        model.set_attn_implementation(previous)


class InvariantDecoder:
    """Greedy decoding with continuous batching whose outputs do not depend on the batch (see module docstring)."""

    def __init__(self, model, eos_ids: set[int], row_block: int, temperature: float = 0.0, top_p: float = 1.0):
        self.model = model
        self.temperature, self.top_p = temperature, top_p
        self.eos_ids = eos_ids
        self.row_block = row_block
        self.device = next(model.parameters()).device
        self.layers = model.config.get_text_config().num_hidden_layers

    def _forward(self, batch: list[_Sequence], input_ids: torch.Tensor, positions: torch.Tensor) -> list[int]:
        """One step for `batch`; returns each sequence's next token: the argmax of its float32 logits (greedy), or
        a draw from them with its own generator (sampling)."""
        out = self.model(input_ids=input_ids, position_ids=positions, use_cache=False, logits_to_keep=1, fgit_batch=batch)
        for seq in batch:
            seq.length += input_ids.shape[1]
        logits = out.logits[:, -1, :].float()
        if all(seq.generator is None for seq in batch):
            return logits.argmax(dim=-1).tolist()
        from harness.generation.sampling import sample_token

        return [int(logits[row].argmax().item()) if seq.generator is None
                else sample_token(logits[row], self.temperature, self.top_p, seq.generator)
                for row, seq in enumerate(batch)]

    def _prefill(self, seq: _Sequence) -> None:
        ids = torch.tensor([seq.prompt_ids], device=self.device)
        positions = torch.arange(len(seq.prompt_ids), device=self.device).unsqueeze(0)
        (token,) = self._forward([seq], ids, positions)
        if len(seq.keys) != self.layers:
            raise BadInput(
                f"batch-invariant mode: {type(self.model).__name__} bypasses transformers' attention interface "
                f"({len(seq.keys)} of {self.layers} layers seen); use --batch-mode plain"
            )
        seq.tokens.append(token)

    @torch.inference_mode()
    def generate(
        self,
        prompts: list[list[int]],
        max_new_tokens: int,
        batch_size: int,
        stopped: Callable[[list[int]], bool],
        on_done: Callable[[int, list[int]], None],
        seeds: list[int | None] | None = None,
    ) -> None:
        """Decode every prompt with up to `batch_size` in flight; `on_done(i, tokens)` as each finishes.

        `stopped(tokens)` says whether a stop string has appeared (the caller knows the tokenizer). `seeds[i]`:
        prompt i is sampled with a generator of that seed (None: greedy)."""
        from harness.generation.sampling import make_generator

        if batch_size < 1 or max_new_tokens < 1:  # the commands check this first; at 0 the loop below never ends
            raise ValueError(f"batch_size and max_new_tokens must be at least 1, got {batch_size}, {max_new_tokens}")
        pending = deque(range(len(prompts)))
        active: list[_Sequence] = []

        def finished(seq: _Sequence) -> bool:
            return seq.tokens[-1] in self.eos_ids or len(seq.tokens) >= max_new_tokens or stopped(seq.tokens)

        with invariant_model(self.model):
            while pending or active:
                while pending and len(active) < batch_size:
                    i = pending.popleft()
                    seed = seeds[i] if seeds is not None else None
                    seq = _Sequence(i, prompts[i], len(prompts[i]) + max_new_tokens,
                                    None if seed is None else make_generator(seed))
                    self._prefill(seq)
                    if finished(seq):
                        on_done(seq.index, seq.tokens)
                    else:
                        active.append(seq)
                if not active:
                    continue
                ids = torch.tensor([[s.tokens[-1]] for s in active], device=self.device)
                positions = torch.tensor([[s.length] for s in active], device=self.device)
                token = _ROW_BLOCK.set(self.row_block)
                try:
                    next_tokens = self._forward(active, ids, positions)
                finally:
                    _ROW_BLOCK.reset(token)
                still = []
                for seq, tok in zip(active, next_tokens, strict=True):
                    seq.tokens.append(tok)
                    if finished(seq):
                        on_done(seq.index, seq.tokens)
                    else:
                        still.append(seq)
                active = still
