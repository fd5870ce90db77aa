"""Token losses of the diversity-preserving SFT methods (../shared/docs/seed-methods.md §1), in plain PyTorch.

All three read the logits that predict the response tokens (position t predicts label t + 1, labels -100 on the
prompt and padding) and return Σ per-token loss / `num_items_in_batch` (the response tokens of the whole
accumulated batch), like `plugins.training.trainer.token_mean_cross_entropy`, so gradient accumulation gives the loss of
one big batch.

- SED-SFT: −log p_t + λ · M_t · (p_t − ½)², M_t = 1 where the top-`k_mask` probability mass is below τ (no
  gradient through M_t). The released loss is a CUDA-only Triton kernel; this is the softmax/topk/gather version.
- GEM: −Σ_v q_v (log p_y − log p_v), q = softmax(z/β) detached.
- DFT: −log p_t · p_t (detached). trl has it only inline in `SFTTrainer.compute_loss` (`loss_type="dft"`, on its
  fused-LM-head outputs): no function to call, and using SFTTrainer would tokenize and batch differently from
  the other variants, so the three lines are written here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class ResponseLogits:
    """The shifted logits (N positions that predict a response token, V) and their gold tokens (N)."""

    logits: torch.Tensor
    targets: torch.Tensor


def response_logits(logits: torch.Tensor, labels: torch.Tensor) -> ResponseLogits:
    """Flatten (B, T, V) logits and (B, T) labels to the positions that predict a response token."""
    shifted, gold = logits[:, :-1].float(), labels[:, 1:]
    keep = gold.ne(-100)
    return ResponseLogits(shifted[keep], gold[keep])


def _count(targets: torch.Tensor, num_items_in_batch) -> torch.Tensor:
    count = num_items_in_batch if num_items_in_batch is not None else targets.numel()
    return torch.as_tensor(count, dtype=torch.float32, device=targets.device).clamp(min=1)


def top_k_mass(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Probability mass of the k most likely tokens at every position (…, V) → (…)."""
    return torch.softmax(logits.float(), dim=-1).topk(k, dim=-1).values.sum(-1)


def calibrate_tau(masses: torch.Tensor, r: float) -> float:
    """τ that puts a fraction `r` of the positions at or above it: the ⌈r·N⌉-th largest top-k mass."""
    if masses.numel() == 0:
        raise ValueError("no positions to calibrate tau on")
    ordered = masses.flatten().sort(descending=True).values
    index = min(max(math.ceil(r * ordered.numel()) - 1, 0), ordered.numel() - 1)
    return float(ordered[index])


def sed_sft_loss(logits: torch.Tensor, labels: torch.Tensor, tau: float, *, k_mask: int = 2, lam: float = 1.0,
                 num_items_in_batch=None) -> tuple[torch.Tensor, dict]:
    """SED-SFT loss and {masked_fraction, masked, positions} of this batch (M_t = 1 positions)."""
    flat = response_logits(logits, labels)
    log_probs = torch.log_softmax(flat.logits, dim=-1)
    log_p = log_probs.gather(-1, flat.targets[:, None]).squeeze(-1)
    with torch.no_grad():
        mask = (log_probs.exp().topk(k_mask, dim=-1).values.sum(-1) < tau).float()
    per_token = -log_p + lam * mask * (log_p.exp() - 0.5) ** 2
    masked = float(mask.sum())
    return per_token.sum() / _count(flat.targets, num_items_in_batch), {
        "masked_fraction": masked / max(mask.numel(), 1), "masked": masked, "positions": float(mask.numel())}


def gem_loss(logits: torch.Tensor, labels: torch.Tensor, *, beta: float = 0.7,
             num_items_in_batch=None) -> torch.Tensor:
    flat = response_logits(logits, labels)
    log_probs = torch.log_softmax(flat.logits, dim=-1)
    q = torch.softmax(flat.logits.detach() / beta, dim=-1)
    log_p_gold = log_probs.gather(-1, flat.targets[:, None])  # (N, 1)
    per_token = -(q * (log_p_gold - log_probs)).sum(-1)
    return per_token.sum() / _count(flat.targets, num_items_in_batch)


def dft_loss(logits: torch.Tensor, labels: torch.Tensor, num_items_in_batch=None) -> torch.Tensor:
    flat = response_logits(logits, labels)
    log_p = torch.log_softmax(flat.logits, dim=-1).gather(-1, flat.targets[:, None]).squeeze(-1)
    return (-log_p * log_p.exp().detach()).sum() / _count(flat.targets, num_items_in_batch)
