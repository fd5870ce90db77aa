"""pass@k from n samples per task: evalplus's own unbiased estimator (`evalplus.eval.estimate_pass_at_k`, the
HumanEval paper's 1 − C(n−c, k)/C(n, k), computed as a product), averaged over tasks.

Which k are reported follows evalplus 0.3.1's `evaluate`: k ∈ {1, 10, 100} where every task has n ≥ k (a k above
some task's n is never reported: a pass@10 from fewer than 10 samples is not an estimate of anything). We add
k ∈ {5, 25} under the same rule, in a field of our own (`OWN_KS`), so that evalplus's keys stay exactly its own.
"""

from __future__ import annotations

UPSTREAM_KS = (1, 10, 100)  # evalplus.evaluate's and bigcodebench's reported k
OWN_KS = (5, 25)  # ours, beside them


def per_task(n: int, c: int, k: int) -> float:
    """One task's pass@k estimate (evalplus's estimator), for k ≤ n."""
    return float(estimate([n], [c], k)[0])


def estimate(totals, corrects, k: int):
    """evalplus.eval.estimate_pass_at_k itself: a numpy array of per-task estimates."""
    from evalplus.eval import estimate_pass_at_k

    return estimate_pass_at_k(list(totals), list(corrects), k)


def pass_at_k(totals: list[int], corrects: list[int], ks=UPSTREAM_KS) -> dict[str, float]:
    """{"pass@k": mean over tasks} for every k in `ks` with k ≤ min(totals), as evalplus computes and reports it
    (`estimate_pass_at_k(total, correct, k).mean()`)."""
    if not totals:
        return {}
    return {f"pass@{k}": float(estimate(totals, corrects, k).mean()) for k in ks if min(totals) >= k}


def reportable_ks(n: int) -> list[int]:
    """Every k of either list that n samples per task can report, ascending."""
    return sorted(k for k in (*UPSTREAM_KS, *OWN_KS) if k <= n)


def curve_ks(n: int) -> list[int]:
    """The k of a leaderboard's pass@k table and curve for n samples: powers of two, the reported k and n itself,
    all ≤ n (every k would be n columns)."""
    ks = {k for k in (*UPSTREAM_KS, *OWN_KS, n) if k <= n}
    power = 1
    while power <= n:
        ks.add(power)
        power *= 2
    return sorted(ks)
