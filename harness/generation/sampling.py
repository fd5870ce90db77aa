"""Sampling that does not depend on the batch: one random stream per (seed, task, sample index).

The construction. Sample i of a task gets its own `torch.Generator` (CPU), seeded with
`row_seed(seed, task_id, i)`: the first 63 bits of sha256 over the JSON text `[seed, task_id, i]`. At every decoding
step the row draws exactly one uniform number u from its own generator and picks its next token from its own
float32 logits:

1. logits / temperature, softmax in float64;
2. tokens ordered by probability, descending (a stable sort: ties keep vocabulary order);
3. top-p: the shortest prefix of that order whose mass reaches top_p (at least one token), renormalised;
4. the token at which the prefix's cumulative mass first exceeds u (inverse CDF).

Nothing here reads another row, a global RNG or the batch: with `invariant` batching (whose logits are the same at
any batch size, see invariant.py) a sample is bit-identical at batch 1 and batch B, in any order, on any shard
and after a resume, which re-creates the generator from the same seed and replays no state. The sample index,
not the position in a batch, selects the stream, so sample i of n = 4 is also sample i of n = 8.
"""

from __future__ import annotations

import hashlib
import json


def row_seed(seed: int, task_id: str, sample: int) -> int:
    """The seed of sample `sample` of `task_id` (63 bits, so torch.Generator.manual_seed takes it)."""
    digest = hashlib.sha256(json.dumps([seed, task_id, sample]).encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def make_generator(seed: int):
    import torch

    generator = torch.Generator(device="cpu")
    generator.manual_seed(seed)
    return generator


def sample_token(logits, temperature: float, top_p: float, generator) -> int:
    """One token from a row's logits (a 1-D tensor), with the row's own generator (see the module docstring)."""
    import torch

    scaled = logits.detach().to("cpu", torch.float64) / temperature
    probs = torch.softmax(scaled, dim=-1)
    ordered, order = torch.sort(probs, descending=True, stable=True)
    cumulative = torch.cumsum(ordered, dim=-1)
    if top_p < 1.0:
        keep = int(torch.searchsorted(cumulative, torch.tensor([top_p], dtype=torch.float64)).item()) + 1
        keep = min(max(keep, 1), ordered.numel())
        cumulative = cumulative[:keep] / cumulative[keep - 1]
        order = order[:keep]
    u = torch.rand((), generator=generator, dtype=torch.float64)
    pick = int(torch.searchsorted(cumulative, u.reshape(1), right=True).item())
    return int(order[min(pick, order.numel() - 1)].item())
