"""What a hotfix variant reports (plugins.methods.hotfix.HotfixPlugin): the tasks it trained on, and its leaderboard
section: per hotfix variant, where its pairs came from, the fixed-line / buggy-line rates on held-out pairs before
and after (plugins.methods.hotfix_metrics), and the side effect on HumanEval+ / MBPP+ pass@1 with the paired test
against Base (the paper's "HumanEval unchanged" check).

It reads the run manifest's `artifacts.<variant>.hotfix` (the artifact manifest's `hotfix` entry). Tasks a hotfix
variant trained on (HumanEvalPack pairs with `benchmark_overlap = "exclude_tasks"`) are its `trained_tasks`: the
leaderboard excludes them for every variant (leaderboards.table.exclude_trained_tasks).
"""

from __future__ import annotations

import math

from leaderboards.sections import Section
from leaderboards.table import variant_label

SIDE_EFFECT_METRICS = ("HumanEval+", "MBPP+")
TITLE = "Hotfixing: held-out pairs and side effects"
NOTE = ("Fixed/buggy line: share of completions of the code before the buggy line that contain the fixed / the buggy "
        "line (held-out pairs, before = the model before hotfixing). Side effect: pass@1 with the paired bootstrap Δ "
        "and McNemar p against Base.")


def hotfix_entry(record: dict) -> dict | None:
    entry = (record or {}).get("hotfix")
    return entry if isinstance(entry, dict) else None


def trained_tasks(record: dict) -> dict[str, list[str]]:
    """benchmark → task ids the variant trained on (HumanEvalPack pairs kept with `exclude_tasks`)."""
    entry = hotfix_entry(record) or {}
    return {benchmark: list(tasks) for benchmark, tasks in (entry.get("exclude_tasks") or {}).items() if tasks}


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


def _decoding_text(after: dict) -> str:
    scored, unscorable = after.get("pairs_scored", 0), after.get("pairs_not_scorable", 0)
    text = (f"{after.get('decoding', '?')}; {after.get('completions', 0)} completions of {scored} "
            f"pair{'' if scored == 1 else 's'}")
    if unscorable:  # a fix that only inserts or deletes lines has no replaced line to probe (plugins.methods.hotfix_metrics)
        text += f" ({unscorable} more held out: only inserted/deleted lines, not scorable)"
    return text


def hotfix_section(board, records: dict[str, dict]) -> Section:
    """One row per hotfix variant with a `hotfix` record (no rows, no section shown, without one)."""
    header = ["Variant", "Pairs", "Fixed line: before → after (%)", "Buggy line: before → after (%)", "Decoding",
              *[f"{m} pass@1 (%)" for m in SIDE_EFFECT_METRICS]]
    rows = []
    for variant, record in records.items():
        entry = hotfix_entry(record)
        if entry is None:
            continue
        before, after = entry.get("rates", {}).get("before", {}), entry.get("rates", {}).get("after", {})
        rows.append([variant_label(variant), _pairs_text(entry),
                     f"{_rate(before.get('fixed_rate'))} → {_rate(after.get('fixed_rate'))}",
                     f"{_rate(before.get('buggy_rate'))} → {_rate(after.get('buggy_rate'))}",
                     _decoding_text(after),
                     *[_side_effect(board, variant, m) for m in SIDE_EFFECT_METRICS]])
    return Section(TITLE, header, rows, NOTE)
