"""FGit loss: token-weighted negative log-likelihood on the correct code with a dynamic Bradley–Terry weight.

`L = -(1/n) Σ_i Σ_j w_ij · log P(c_ij | x_i, c_i,<j)` over response tokens; shared tokens have w = 1, tokens with
mask M > 0 get the sample's weight w_i. The weight compares the current model's mean probability of the
error-sensitive tokens of `c` and of `ĉ` (teacher-forced, same prompt): `P = p̄_c / (p̄_c + p̄_ĉ)`, then
(B, the default) `1 + (α−1)(1−P)`, (A) `1 + (α−1)·4P(1−P)` or (C) `α / (1 + |p̄_c − p̄_ĉ|)`. This is our
reconstruction of the paper (see ../shared/docs/fgit-method.md); every choice is a field of `FGitLossConfig`.

Why B, with the gradient through the weight, is the default: the paper says the weight is differentiable and
that its gradient "implicitly steers the model away from ĉ". Only B does that at every P: dw/dP < 0, so a descent
step on w·NLL raises P (raises p̄_c, lowers p̄_ĉ) on top of the SFT term. A and C fall as P leaves 0.5 in *either*
direction: when the model prefers ĉ (P < 0.5) their weight's gradient lowers P, i.e. moves the model toward ĉ
(tests/test_fgit_loss.py measures one optimizer step). A and C stay available, and are safe with
`grad_through_weight = false` (the weight is then a constant factor on an SFT term); `DEFAULT_ELIGIBLE` lists the
combinations allowed as a default. The price of B: its weight is monotone (α as P → 0, 1 + (α−1)/2 at P = 0.5,
1 as P → 1) instead of peaking at P = 0.5 as the paper's prose describes.

Hybrid mask (0 shared / 1 changed line / 2 changed token in a changed line): with `per_token_scale` (default) a
token gets `1 + (w−1)·M/2`, so changed tokens get the full weight and the rest of a changed line half the extra
weight; without it every M > 0 gets w and hybrid would weight exactly the line mask's tokens.

Batch layout (all [B, T] tensors aligned with `input_ids`, masks 0 on prompt and padding; built by
`plugins.training.fgit_masks.encode_pair` + `collate`):
`input_ids`, `attention_mask`, `labels` (-100 on prompt/padding), `line_mask`, `token_mask` for `c`;
`incorrect_input_ids`, `incorrect_attention_mask`, `incorrect_line_mask`, `incorrect_token_mask` for `ĉ`;
optionally `fgit_paired` ([B], 1 where the row has a variant; without it a row counts as paired when either
side has a mark) for the weight statistics. Line and token masks travel separately so `mask = "line" | "token" |
"hybrid"` is chosen at loss time.

Cost: the ĉ pass runs only where it can change p̄_ĉ. It stops after ĉ's last masked token (causal attention), computes
vocabulary logits only where a masked token is predicted, and (`share_prefix`) starts where ĉ first departs from
`c`: the prompt and the code before the first changed line are the same tokens on both sides, so their keys and
values are taken from the `c` pass's cache instead of being recomputed. That is exact, gradient included (the
shared keys and values are the same function of the parameters, and autograd sums both passes' contributions),
and typically removes most of the ĉ pass. It is exact only when both passes compute the same function: with
dropout active (training with `lora_dropout > 0`) the recomputed prefix would draw new dropout masks, so sharing
is switched off there (`share_prefix_active` says whether it applies) rather than silently changing the estimate.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import NamedTuple

from plugins.training.fgit_masks import (
    IGNORE_INDEX,
    INCORRECT_ATTENTION,
    INCORRECT_IDS,
    INCORRECT_LINE_MASK,
    INCORRECT_TOKEN_MASK,
    LINE_MASK,
    MASK_KINDS,
    TOKEN_MASK,
)
from plugins.training.lazy_modules import (
    functional as F,  # torch loads on first use: configs import without it
)
from plugins.training.lazy_modules import torch

PAIRED = "fgit_paired"  # optional [B] column: 1 where the row has an incorrect variant
# (weight_formula, grad_through_weight) pairs whose optimizer step never moves the model toward ĉ
# (tests/test_fgit_loss.py::test_one_step_moves_away_from_the_incorrect_variant): B with the weight's gradient,
# any formula with the weight detached.
DEFAULT_ELIGIBLE = (("B", True), ("A", False), ("B", False), ("C", False))
FGIT_BATCH_KEYS = (LINE_MASK, TOKEN_MASK, INCORRECT_IDS, INCORRECT_ATTENTION, INCORRECT_LINE_MASK, INCORRECT_TOKEN_MASK)
_EMPTY_LOGIT = -1e4  # stands in for log 0 where a mask is empty: finite, so no NaN reaches the gradient


@dataclass
class FGitLossConfig:
    """Loss options; the defaults are the method as fgit-method.md reconstructs it."""

    alpha: float = field(default=2.0, metadata={"help": "the weight's maximum"})
    # B is the default: the only one whose gradient never moves the model toward ĉ (module docstring).
    weight_formula: str = field(default="B", metadata={
        "help": '"B" 1+(α−1)(1−P) | "A" 1+(α−1)·4P(1−P), both in (1, α]; "C" α/(1+|p̄_c−p̄_ĉ|) in (α/2, α]'})
    mean: str = field(default="weighted", metadata={
        "help": 'p̄ = Σ p·M / Σ M ("weighted") or the plain mean over M > 0 ("plain")'})
    per_token_scale: bool = field(default=True, metadata={
        "help": "hybrid: token weight 1 + (w−1)·M/2 (changed tokens above their lines); False: w on every M > 0"})
    grad_through_weight: bool = field(default=True, metadata={
        "help": "False: the weight is a constant (detached)"})
    grad_through_incorrect: bool = field(default=True, metadata={
        "help": "False: the ĉ pass runs without a graph (the gradient flows via p̄_c only)"})
    mask: str = field(default="hybrid", metadata={"help": '"hybrid" (0/1/2) | "line" | "token"'})
    fixed_weight: float | None = field(default=None, metadata={
        "help": "ablation: this weight on every masked token, no ĉ pass; 1.0 = Standard-SFT"})
    share_prefix: bool = field(default=True, metadata={
        "help": "reuse the c pass's keys/values for the prefix c and ĉ share (same result; False recomputes "
                "it, as a check or for a model whose cache cannot be cropped); off by itself under gradient "
                "checkpointing and active dropout"})

    def __post_init__(self) -> None:
        if self.weight_formula not in ("A", "B", "C"):
            raise ValueError(f"weight_formula must be 'A', 'B' or 'C', not {self.weight_formula!r}")
        if self.mean not in ("weighted", "plain"):
            raise ValueError(f"mean must be 'weighted' or 'plain', not {self.mean!r}")
        if self.mask not in MASK_KINDS:
            raise ValueError(f"mask must be one of {', '.join(MASK_KINDS)}, not {self.mask!r}")
        if not self.alpha >= 1.0:
            raise ValueError(f"alpha must be at least 1, not {self.alpha}")
        if self.fixed_weight is not None and not self.fixed_weight > 0:
            raise ValueError(f"fixed_weight must be positive, not {self.fixed_weight}")


class FGitLossOutput(NamedTuple):
    loss: torch.Tensor
    weights: torch.Tensor  # [B] the weight of each sample's masked tokens (detached, for logging)
    p_correct: torch.Tensor | None  # [B] p̄_c (detached); None with a fixed weight
    p_incorrect: torch.Tensor | None  # [B] p̄_ĉ
    weighted_tokens: torch.Tensor | None = None  # [B] response tokens of c with M > 0
    paired: torch.Tensor | None = None  # [B] bool: the row has an incorrect variant


def select_mask(line_mask: torch.Tensor, token_mask: torch.Tensor, kind: str) -> torch.Tensor:
    """The mask M of `kind`: hybrid = line + token (0/1/2), or one of the two."""
    if kind == "hybrid":
        return line_mask + token_mask
    if kind == "line":
        return line_mask
    if kind == "token":
        return token_mask
    raise ValueError(f"unknown mask kind {kind!r}")


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """log P(label_t | <t) for t ≥ 1 as a [B, T−1] tensor (0 where the label is ignored); float32 or better."""
    if logits.dtype not in (torch.float32, torch.float64):
        logits = logits.float()  # as transformers' own causal-LM loss does
    # Shift the labels, not the logits: slicing logits[:, :-1] would copy the [B, T, V] tensor in reshape.
    shift_labels = F.pad(labels[:, 1:].to(logits.device), (0, 1), value=IGNORE_INDEX)
    nll = F.cross_entropy(
        logits.reshape(-1, logits.size(-1)), shift_labels.reshape(-1), ignore_index=IGNORE_INDEX, reduction="none"
    )
    return -nll.view(shift_labels.shape)[:, :-1]


def _reduce_nll(logp: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None, num_items_in_batch) -> torch.Tensor:
    valid = labels[:, 1:].ne(IGNORE_INDEX)
    terms = logp if weights is None else logp * weights[:, 1:].to(logp.dtype)
    total = -(terms * valid).sum()
    if num_items_in_batch is None:
        return total / valid.sum().clamp_min(1)
    if torch.is_tensor(num_items_in_batch):
        num_items_in_batch = num_items_in_batch.to(total.device)
    return total / num_items_in_batch


def weighted_nll(
    logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor | None = None, num_items_in_batch=None
) -> torch.Tensor:
    """-(1/n) Σ w·log p over response tokens (labels ≠ -100; logits at t predict labels at t+1).

    `weights` is [B, T] aligned with `labels` (None = all ones, the Standard-SFT loss); n is the number of
    response tokens, or `num_items_in_batch` when given (gradient accumulation, as transformers' Trainer counts it).
    """
    return _reduce_nll(token_logprobs(logits, labels), labels, weights, num_items_in_batch)


def masked_log_mean_prob(logp: torch.Tensor, mask: torch.Tensor, mean: str = "weighted") -> tuple[torch.Tensor, torch.Tensor]:
    """log p̄ per row: log(Σ p·M / Σ M) (or the plain mean over M > 0), and whether the row's mask is non-empty.

    Computed in log space (logsumexp) so tiny probabilities on both sides still give a finite comparison.
    """
    mask = mask.to(logp.dtype)
    if mean == "plain":
        mask = (mask > 0).to(logp.dtype)
    present = mask > 0
    scores = torch.where(present, logp + torch.log(torch.where(present, mask, 1.0)), _EMPTY_LOGIT)
    total = mask.sum(-1)
    return torch.logsumexp(scores, dim=-1) - torch.log(total.clamp_min(1.0)), total > 0


def dynamic_weight(log_p_correct: torch.Tensor, log_p_incorrect: torch.Tensor, cfg: FGitLossConfig) -> torch.Tensor:
    """The Bradley–Terry weight from log p̄_c and log p̄_ĉ (no edge cases: both masks non-empty)."""
    alpha = cfg.alpha
    if cfg.weight_formula == "A":
        # 4P(1−P) with P and 1−P as sigmoids: no cancellation when one side dominates
        return 1 + (alpha - 1) * 4 * torch.sigmoid(log_p_correct - log_p_incorrect) * torch.sigmoid(
            log_p_incorrect - log_p_correct
        )
    if cfg.weight_formula == "B":
        return 1 + (alpha - 1) * torch.sigmoid(log_p_incorrect - log_p_correct)
    return alpha / (1 + (log_p_correct.exp() - log_p_incorrect.exp()).abs())


def sample_weights(
    log_p_correct: torch.Tensor, has_correct: torch.Tensor, log_p_incorrect: torch.Tensor, has_incorrect: torch.Tensor,
    cfg: FGitLossConfig,
) -> torch.Tensor:
    """Per-sample weight with the edge cases: empty mask on `c` (identical pair, pure insertion) → 1 (plain SFT);
    empty mask on `ĉ` → α."""
    safe_c = torch.where(has_correct, log_p_correct, 0.0)
    safe_i = torch.where(has_incorrect, log_p_incorrect, 0.0)
    weight = dynamic_weight(safe_c, safe_i, cfg)
    weight = torch.where(has_incorrect, weight, torch.full_like(weight, cfg.alpha))
    return torch.where(has_correct, weight, torch.ones_like(weight))


def token_weights(mask: torch.Tensor, weight: torch.Tensor, cfg: FGitLossConfig) -> torch.Tensor:
    """[B, T] weights: 1 on shared tokens, the sample's weight where M > 0 (scaled by M/2 with per_token_scale)."""
    mask = mask.to(weight.dtype)
    if cfg.per_token_scale and cfg.mask == "hybrid":
        # Scale the extra weight, not w itself: w·M/2 would put changed-line tokens (M = 1) below shared ones.
        share = mask / 2
    else:
        share = (mask > 0).to(weight.dtype)
    return 1 + (weight[:, None] - 1) * share


def _shared_prefix(batch, mask: torch.Tensor, first_needed: int) -> int:
    """How many leading positions every row with a ĉ mask has in common with its `c` (same token, both real), cut
    before the first position whose logits the ĉ pass needs. Rows without a ĉ mask do not count: their output is
    not used."""
    rows = mask.any(1)
    width = min(batch["input_ids"].size(1), batch[INCORRECT_IDS].size(1), first_needed - 1)
    if width <= 0 or not bool(rows.any()):
        return 0
    ids_i = batch[INCORRECT_IDS][rows, :width]
    same = batch["input_ids"][rows, :width].to(ids_i.device).eq(ids_i)
    same &= batch[INCORRECT_ATTENTION][rows, :width].bool()
    if batch.get("attention_mask") is not None:
        same &= batch["attention_mask"][rows, :width].to(same.device).bool()
    return int(same.long().cumprod(1).sum(1).min())


def _checkpointing(model) -> bool:
    """Gradient checkpointing recomputes layers in the backward pass, which would write into a shared cache again."""
    return model.training and any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


def _dropout_active(model) -> bool:
    """A dropout that draws masks in this mode (LoRA dropout in training): a recomputed prefix would differ."""
    return any(m.training and isinstance(m, torch.nn.Dropout) and m.p > 0 for m in model.modules())


def share_prefix_active(model, cfg: FGitLossConfig) -> bool:
    """Whether the ĉ pass reuses the c pass's cache: asked for, dynamic weight, and exact for this model now."""
    return (cfg.fixed_weight is None and cfg.share_prefix and not _checkpointing(model)
            and not _dropout_active(model))


def _prefix_cache(past, batch, mask: torch.Tensor, first_needed: int):
    """(cache holding the first `start` positions of the c pass, start), or (None, 0) when nothing can be shared."""
    if past is None or not hasattr(past, "crop"):
        return None, 0
    length = batch["input_ids"].size(1)
    if past.get_seq_length() != length:  # no cache came back (gradient checkpointing turns it off)
        return None, 0
    start = _shared_prefix(batch, mask, first_needed)
    if start <= 0:
        return None, 0
    try:
        past.crop(start - length)  # a negative count: remove that many positions from the end
    except (ValueError, TypeError, NotImplementedError):
        return None, 0
    return past, start


def _incorrect_log_mean(model, batch, cfg: FGitLossConfig, past=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Teacher-forced pass on ĉ; logits only at the positions that predict a masked token (lm_head is the big op).

    `past`: the c pass's key/value cache; the positions c and ĉ share are taken from it (see the module docstring).
    """
    ids = batch[INCORRECT_IDS]
    mask = select_mask(batch[INCORRECT_LINE_MASK], batch[INCORRECT_TOKEN_MASK], cfg.mask).clone()
    mask[:, 0] = 0  # the first token is never predicted
    needed = (mask > 0).any(0).nonzero().flatten()
    if needed.numel() == 0:
        empty = torch.zeros(ids.size(0), device=ids.device, dtype=torch.float32)
        return empty, torch.zeros_like(empty, dtype=torch.bool)
    keep = needed - 1  # logits at t−1 predict token t
    # Causal attention: tokens after the last masked one cannot change p̄_ĉ, so they are not run at all.
    end = int(needed[-1]) + 1
    past, start = _prefix_cache(past, batch, mask, int(needed[0]))
    inputs = {"input_ids": ids[:, start:end], "attention_mask": batch[INCORRECT_ATTENTION][:, :end], "use_cache": False}
    if past is not None:
        inputs.update(cache=past, use_cache=True)  # `cache`: transformers 5's name (past_key_values is deprecated)
    use_graph = cfg.grad_through_weight and cfg.grad_through_incorrect
    with contextlib.nullcontext() if use_graph else torch.no_grad():
        try:
            logits = model(**inputs, logits_to_keep=keep - start).logits
        except TypeError as exc:  # a model class without logits_to_keep: compute all logits, then pick
            if "logits_to_keep" not in str(exc):
                raise
            logits = model(**inputs).logits[:, keep - start]
        if logits.dtype not in (torch.float32, torch.float64):
            logits = logits.float()
        logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, needed, None].to(logits.device)).squeeze(-1)
        return masked_log_mean_prob(logp, mask[:, needed].to(logp.device), cfg.mean)


def fgit_loss(model, batch, cfg: FGitLossConfig, num_items_in_batch=None) -> FGitLossOutput:
    """Two forward passes (c, then ĉ from where it departs from c; ĉ without a graph unless its gradient is
    wanted) and the weighted NLL."""
    labels = batch["labels"]
    mask = select_mask(batch[LINE_MASK], batch[TOKEN_MASK], cfg.mask) * labels.ne(IGNORE_INDEX)
    dynamic = cfg.fixed_weight is None
    share = share_prefix_active(model, cfg)
    output = model(input_ids=batch["input_ids"], attention_mask=batch.get("attention_mask"), use_cache=share)
    if dynamic:
        log_p_incorrect, has_incorrect = _incorrect_log_mean(
            model, batch, cfg, getattr(output, "cache", None) if share else None)
    logp = token_logprobs(output.logits, labels)
    del output  # the cache (cropped to the shared prefix) is held by autograd where it is needed
    if not dynamic:
        weight = torch.full((labels.size(0),), float(cfg.fixed_weight), dtype=logp.dtype, device=logp.device)
        p_c = p_i = None
    else:
        log_p_correct, has_correct = masked_log_mean_prob(logp, mask[:, 1:].to(logp.device), cfg.mean)
        weight = sample_weights(
            log_p_correct, has_correct, log_p_incorrect.to(logp.dtype), has_incorrect.to(logp.device), cfg
        )
        if not cfg.grad_through_weight:
            weight = weight.detach()
        p_c = torch.where(has_correct, log_p_correct.exp(), 0.0).detach()
        p_i = torch.where(has_incorrect, log_p_incorrect.exp(), 0.0).detach().to(p_c.device)
    weights = token_weights(mask.to(logp.device), weight, cfg)
    loss = _reduce_nll(logp, labels.to(logp.device), weights, num_items_in_batch)
    return FGitLossOutput(loss, weight.detach(), p_c, p_i, (mask > 0).sum(1).to(logp.device), _paired(batch))


def _paired(batch) -> torch.Tensor:
    """Rows with an incorrect variant: the `fgit_paired` column, else any mark on either side."""
    if PAIRED in batch:
        return torch.as_tensor(batch[PAIRED]).bool()
    marks = [batch[k].gt(0).any(1) for k in (LINE_MASK, TOKEN_MASK, INCORRECT_LINE_MASK, INCORRECT_TOKEN_MASK)]
    return marks[0] | marks[1] | marks[2].to(marks[0].device) | marks[3].to(marks[0].device)


def trainer_loss_fn(cfg: FGitLossConfig):
    """`loss_fn(model, inputs, num_items_in_batch) -> (loss, metrics)` for `plugins.training.trainer.LossFnTrainer`.

    The per-step metrics and the artifact's summary cover paired rows only (plugins.training.fgit_stats): an unpaired row
    has w = 1 and p = 0 by construction and would bias the means."""
    from plugins.training.fgit_stats import WeightStats

    stats = WeightStats(cfg)

    def loss_fn(model, inputs, num_items_in_batch=None):
        out = fgit_loss(model, inputs, cfg, num_items_in_batch)
        stats.add(out)
        return out.loss, {}

    loss_fn.step_logs = stats.step_logs  # read by LossFnTrainer.log: exact means over the step's paired rows
    loss_fn.summary = stats.summary  # read by run_training into the artifact manifest
    return loss_fn
