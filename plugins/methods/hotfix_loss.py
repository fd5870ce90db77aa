"""Hotfixing objectives (arXiv 2408.05727, ../shared/docs/seed-methods.md §2): learn the fix, unlearn the bug,
retain the rest.

A batch is FGit's row layout (plugins.training.fault_weighted.encode_fault_weighted): the fixed program `input_ids` with
`labels` (-100 on the prompt) and `line_mask` (m_add: tokens in lines of the fixed code that the buggy code lacks),
the buggy program `incorrect_input_ids` with `incorrect_line_mask` (m_del: tokens in lines of the buggy code that
the fix removes). CE_S is the mean token cross-entropy over the token set S of the micro-batch.

| objective         | loss                                              |
| learn_all         | CE(fixed, response tokens)                        |
| learn_added       | L_add = CE(fixed, m_add)                          |
| unlearn_deleted   | −L_del = −CE(buggy, m_del)                        |
| bounded           | 0.7·L_add + 0.3·L_add / (2·L_del + ε)             |
| + retain          | + w · mean_t KL(p_original,t ‖ p_θ,t) on the fixed response tokens |

The retain term is computed WITH gradient through p_θ (the released code computes it under no_grad and on
probabilities where log-probabilities are expected, so it contributes nothing). The original model is the
adapter-disabled model under LoRA, or a frozen copy for full fine-tuning.

Per-micro-batch means (not divided by the tokens of the accumulated batch as SFT's loss is): the bounded
objective is a ratio of means, which does not add up over micro-batches anyway. A set S with no token (a fix
that only deletes lines has an empty m_add) gives CE_S = 0; a batch without m_del tokens gets the bounded
objective's 0.7·L_add alone (the ratio would be L_add / ε).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch

from plugins.training.fgit_masks import INCORRECT_ATTENTION, INCORRECT_IDS, INCORRECT_LINE_MASK, LINE_MASK

OBJECTIVES = ("learn_all", "learn_added", "unlearn_deleted", "bounded")


@dataclass
class HotfixLossConfig:
    objective: str = field(default="bounded", metadata={"help": "learn_all | learn_added | unlearn_deleted | bounded"})
    add_weight: float = field(default=0.7, metadata={"help": "bounded: weight of L_add"})
    ratio_weight: float = field(default=0.3, metadata={"help": "bounded: weight of L_add / (2 L_del + eps)"})
    eps: float = field(default=1e-6, metadata={"help": "bounded: epsilon in the denominator"})
    retain: bool = field(default=True, metadata={"help": "add the token KL to the frozen original model"})
    retain_weight: float = field(default=0.3, metadata={"help": "weight of the retain KL"})

    def __post_init__(self):
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.retain_weight < 0:
            raise ValueError(f"retain_weight must be >= 0, got {self.retain_weight}")


def masked_ce(logits: torch.Tensor, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of the tokens `input_ids[:, t]` with `mask[:, t]` set, predicted at position t − 1."""
    select = mask[:, 1:].bool()
    if not select.any():
        return logits.sum() * 0.0  # keeps the graph (and the dtype) for an empty set
    log_probs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    token_lp = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)
    return -token_lp[select].mean()


def retain_kl(logits: torch.Tensor, reference_logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over the positions predicting a `mask` token of KL(p_reference ‖ p_θ); gradient through `logits`."""
    select = mask[:, 1:].bool()
    if not select.any():
        return logits.sum() * 0.0
    log_p = torch.log_softmax(logits[:, :-1].float(), dim=-1)[select]
    log_ref = torch.log_softmax(reference_logits[:, :-1].float().detach(), dim=-1)[select]
    return (log_ref.exp() * (log_ref - log_p)).sum(-1).mean()


def objective_loss(cfg: HotfixLossConfig, l_all, l_add, l_del, has_deleted: bool = True):
    """The objective from its parts. `has_deleted` False (no m_del token in the batch: fixes that only add
    lines): the bounded objective's ratio would be L_add / ε, so it keeps its 0.7·L_add part only."""
    if cfg.objective == "learn_all":
        return l_all
    if cfg.objective == "learn_added":
        return l_add
    if cfg.objective == "unlearn_deleted":
        return -l_del
    if not has_deleted:
        return cfg.add_weight * l_add
    return cfg.add_weight * l_add + cfg.ratio_weight * l_add / (2 * l_del + cfg.eps)


def needs_buggy_side(cfg: HotfixLossConfig) -> bool:
    return cfg.objective in ("unlearn_deleted", "bounded")


@contextlib.contextmanager
def _original(model, reference):
    """The frozen original: `reference` when given, else the same model with its LoRA adapters disabled."""
    if reference is not None:
        yield reference
        return
    inner = getattr(model, "module", model)  # DDP wraps the PEFT model
    with inner.disable_adapter():
        yield inner


def hotfix_loss(model, batch: dict, cfg: HotfixLossConfig, reference=None) -> tuple[torch.Tensor, dict]:
    """The configured objective (+ the retain term) on one batch, and its parts for the training log."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    response = batch["labels"].ne(-100)
    parts = {"l_all": masked_ce(logits, batch["input_ids"], response),
             "l_add": masked_ce(logits, batch["input_ids"], batch[LINE_MASK])}
    if needs_buggy_side(cfg):
        buggy = model(input_ids=batch[INCORRECT_IDS], attention_mask=batch[INCORRECT_ATTENTION]).logits
        parts["l_del"] = masked_ce(buggy, batch[INCORRECT_IDS], batch[INCORRECT_LINE_MASK])
    has_deleted = bool(batch[INCORRECT_LINE_MASK][:, 1:].any()) if needs_buggy_side(cfg) else False
    loss = objective_loss(cfg, parts["l_all"], parts["l_add"], parts.get("l_del"), has_deleted)
    if cfg.retain and cfg.retain_weight > 0:
        with torch.no_grad(), _original(model, reference) as original:
            reference_logits = original(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        parts["retain_kl"] = retain_kl(logits, reference_logits, response)
        loss = loss + cfg.retain_weight * parts["retain_kl"]
    return loss, {name: float(value.detach()) for name, value in parts.items()}


def trainer_loss_fn(cfg: HotfixLossConfig, reference=None):
    def loss_fn(model, inputs, num_items_in_batch=None):
        return hotfix_loss(model, inputs, cfg, reference)

    return loss_fn
