"""The hotfixing columns of a leaderboard: per hotfix variant, where its pairs came from, the fixed-line /
buggy-line rates on held-out pairs before and after (plugins.methods.hotfix_metrics), and the side effect on
HumanEval+ / MBPP+ pass@1 with the paired test against Base (the paper's "HumanEval unchanged" check).

It reads the run manifest's `artifacts.<variant>.hotfix` (the artifact manifest's `hotfix` entry). Tasks a
hotfix variant trained on (HumanEvalPack pairs with `benchmark_overlap = "exclude_tasks"`) are flagged
excluded for every variant (`exclude_trained_tasks`), so no score and no paired test counts them.
"""

from __future__ import annotations

import math

import pandas as pd

SIDE_EFFECT_METRICS = ("HumanEval+", "MBPP+")
TRAINED_DETAIL = "trained on by a hotfix variant"


def hotfix_entries(manifest: dict) -> dict[str, dict]:
    artifacts = (manifest or {}).get("artifacts") or {}
    return {v: a["hotfix"] for v, a in artifacts.items() if isinstance(a, dict) and isinstance(a.get("hotfix"), dict)}


def trained_tasks(manifest: dict) -> dict[str, set[str]]:
    """benchmark → task ids some hotfix variant of the run trained on."""
    found: dict[str, set[str]] = {}
    for entry in hotfix_entries(manifest).values():
        for benchmark, tasks in (entry.get("exclude_tasks") or {}).items():
            found.setdefault(benchmark, set()).update(tasks)
    return found


def exclude_trained_tasks(table: pd.DataFrame, manifest: dict) -> pd.DataFrame:
    """`table` with the trained-on tasks flagged excluded (for every variant) and named in `detail`."""
    tasks = trained_tasks(manifest)
    if table.empty or not tasks:
        return table
    hit = pd.Series(False, index=table.index)
    for benchmark, ids in tasks.items():
        hit |= (table["benchmark"] == benchmark) & table["task_id"].isin(ids)
    table = table.copy()
    table.loc[hit, "excluded"] = True
    table.loc[hit, "detail"] = TRAINED_DETAIL
    return table


def _rate(value) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _pairs_text(entry: dict) -> str:
    excluded = (entry.get("exclude_tasks") or {}).get("humaneval", [])
    handling = (f"HumanEval tasks trained on excluded from every score: {len(excluded)}" if excluded else
                "decontaminated (overlapping pairs dropped)")
    return (f"{'+'.join(entry.get('sources', []))}: {entry.get('train', 0)} train / {entry.get('validation', 0)} "
            f"validation / {entry.get('test', 0)} held-out; {handling}")


def _side_effect(board, variant: str, metric: str) -> str:
    lookup = board.pass_at_1.loc[(board.pass_at_1["variant"] == variant) & (board.pass_at_1["metric"] == metric)]
    if lookup.empty:
        return "–"
    text = f"{100 * float(lookup['pass_at_1'].iloc[0]):.1f}"
    paired = board.paired
    if not paired.empty:
        row = paired.loc[(paired["variant"] == variant) & (paired["reference"] == "base") & (paired["metric"] == metric)]
        if not row.empty:
            r = row.iloc[0]
            delta = "–" if math.isnan(r["delta"]) else f"{100 * r['delta']:+.1f}"
            p = "–" if math.isnan(r["p_value"]) else f"{r['p_value']:.3f}"
            text += f" (Δ {delta} pp vs Base, McNemar p {p})"
    return text


def hotfix_rows(board) -> tuple[list[str], list[list[str]]]:
    from leaderboards.table import variant_label

    header = ["Variant", "Pairs", "Fixed line: before → after (%)", "Buggy line: before → after (%)", "Decoding",
              *[f"{m} pass@1 (%)" for m in SIDE_EFFECT_METRICS]]
    rows = []
    for variant, entry in hotfix_entries(board.provenance.get("manifest", {})).items():
        before, after = entry.get("rates", {}).get("before", {}), entry.get("rates", {}).get("after", {})
        rows.append([variant_label(variant), _pairs_text(entry),
                     f"{_rate(before.get('fixed_rate'))} → {_rate(after.get('fixed_rate'))}",
                     f"{_rate(before.get('buggy_rate'))} → {_rate(after.get('buggy_rate'))}",
                     _decoding_text(after),
                     *[_side_effect(board, variant, m) for m in SIDE_EFFECT_METRICS]])
    return header, rows


def _decoding_text(after: dict) -> str:
    scored, unscorable = after.get("pairs_scored", 0), after.get("pairs_not_scorable", 0)
    text = (f"{after.get('decoding', '?')}; {after.get('completions', 0)} completions of {scored} "
            f"pair{'' if scored == 1 else 's'}")
    if unscorable:  # a fix that only inserts or deletes lines has no replaced line to probe (plugins.methods.hotfix_metrics)
        text += f" ({unscorable} more held out: only inserted/deleted lines, not scorable)"
    return text


def hotfix_markdown(board) -> list[str]:
    from leaderboards.render import markdown_table

    header, rows = hotfix_rows(board)
    if not rows:
        return []
    return ["## Hotfixing: held-out pairs and side effects", "", markdown_table(header, rows), "",
            "Fixed/buggy line: share of completions of the code before the buggy line that contain the fixed / "
            "the buggy line (held-out pairs, before = the model before hotfixing). Side effect: pass@1 with the "
            "paired bootstrap Δ and McNemar p against Base.", ""]
