"""The regression gate: compare a current run with a baseline, per variant and metric, on paired tasks.

A (variant, metric) regresses when its pass@1 on the tasks both sides scored drops by more than `max_drop_pp`
percentage points AND the exact two-sided McNemar test on those tasks gives p < alpha. Both conditions: the
first ignores significant but negligible drops on large benchmarks, the second ignores noise on small slices.

The gate fails closed: every (variant, metric) series and every scored task of the baseline must be scored in the
current run, else the run is incomplete and the gate exits 1 listing what is missing (a crash half-way must never
go green). With n samples per task the series are per-task pass rates: the drop is in pass@1-from-n (the mean
rate), its p comes from the paired task bootstrap (McNemar needs one binary outcome per task), and a current run
whose design (n, temperature, top-p) differs from the baseline's is refused (exit 2) unless
`allow_design_change`. A task the baseline scored and the current run excludes (its ground truth fails now) counts as
missing. `allow_missing` turns that into a warning. Tasks only the current run scored are listed and ignored.
"""

from __future__ import annotations

import math
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from harness.core import atomic
from harness.core.errors import EXIT_OK, EXIT_REGRESSION, BadInput
from leaderboards.baseline import PassTable, load_pass_table
from leaderboards.defaults import DEFAULT_ALPHA, DEFAULT_MAX_DROP_PP, DEFAULT_RESAMPLES, DEFAULT_SEED
from leaderboards.passk_stats import rate_compare
from leaderboards.stats import mcnemar_exact
from leaderboards.table import order_metrics, order_variants, sort_tasks, variant_label

LISTED_TASKS = 20  # task ids shown per list in the summary; the JUnit file has them all


@dataclass
class GateRow:
    variant: str
    metric: str
    paired: int = 0
    baseline_pass: int = 0
    current_pass: int = 0
    lost: list[str] = field(default_factory=list)  # passed in the baseline, fail now
    gained: list[str] = field(default_factory=list)
    only_baseline: list[str] = field(default_factory=list)
    only_current: list[str] = field(default_factory=list)
    p_value: float = math.nan
    regression: bool = False
    missing: str | None = None  # "current" / "baseline": the whole series is absent on that side

    @property
    def compared(self) -> bool:
        return self.missing is None and self.paired > 0

    @property
    def baseline_rate(self) -> float:
        return self.baseline_pass / self.paired if self.paired else math.nan

    @property
    def current_rate(self) -> float:
        return self.current_pass / self.paired if self.paired else math.nan

    @property
    def drop_pp(self) -> float:
        return 100.0 * (self.baseline_rate - self.current_rate)

    @property
    def name(self) -> str:
        return f"{self.variant}/{self.metric}"


def compare_series(
    variant: str,
    metric: str,
    baseline: dict[str, bool],
    current: dict[str, bool],
    max_drop_pp: float,
    alpha: float,
) -> GateRow:
    shared = sort_tasks(baseline.keys() & current.keys())
    row = GateRow(variant, metric, paired=len(shared))
    row.only_baseline = sort_tasks(baseline.keys() - current.keys())
    row.only_current = sort_tasks(current.keys() - baseline.keys())
    row.baseline_pass = sum(baseline[t] for t in shared)
    row.current_pass = sum(current[t] for t in shared)
    rates = any(not isinstance(v, bool) for v in (*baseline.values(), *current.values()))
    if rates:  # n samples per task: pass@1-from-n, per-task pass rates; lost/gained: rates that fell/rose
        row.lost = [t for t in shared if current[t] < baseline[t]]
        row.gained = [t for t in shared if current[t] > baseline[t]]
    else:
        row.lost = [t for t in shared if baseline[t] and not current[t]]
        row.gained = [t for t in shared if current[t] and not baseline[t]]
    if shared and rates:  # the paired task bootstrap on the rates and its inverted p (McNemar needs n = 1)
        row.p_value = rate_compare(np.array([current[t] for t in shared], float),
                                   np.array([baseline[t] for t in shared], float), DEFAULT_RESAMPLES,
                                   DEFAULT_SEED)[3]
        row.regression = round(row.drop_pp, 9) > max_drop_pp and row.p_value < alpha
    elif shared:
        row.p_value = mcnemar_exact(len(row.lost), len(row.gained))
        # Round away float noise so that a drop of exactly max_drop_pp is allowed.
        row.regression = round(row.drop_pp, 9) > max_drop_pp and row.p_value < alpha
    return row


@dataclass
class GateReport:
    baseline: str
    current: str
    max_drop_pp: float
    alpha: float
    rows: list[GateRow]
    allow_missing: bool = False
    newly_excluded: dict[str, list[str]] = field(default_factory=dict)  # series name → tasks excluded now
    design: dict = field(default_factory=dict)  # the baseline's (n samples, temperature, top-p)

    @property
    def regressions(self) -> list[GateRow]:
        return [r for r in self.rows if r.regression]

    @property
    def missing(self) -> list[GateRow]:
        """Series absent from the current run, or with baseline tasks the current run did not score."""
        return [r for r in self.rows if r.missing == "current" or (r.missing is None and r.only_baseline)]

    @property
    def incomplete(self) -> bool:
        return bool(self.missing) and not self.allow_missing

    @property
    def exit_code(self) -> int:
        return EXIT_REGRESSION if self.regressions or self.incomplete else EXIT_OK

    def missing_summary(self) -> str:
        """One line: what the current run lacks, e.g. `sft (all), base/MBPP+ (2 tasks)`."""
        parts = []
        for r in self.missing:
            parts.append(f"{r.name} (whole series)" if r.missing else f"{r.name} ({len(r.only_baseline)} tasks)")
        return ", ".join(parts)

    @property
    def markdown(self) -> str:
        return render_markdown(self)

    def to_junit(self) -> str:
        return render_junit(self)

    def write_junit(self, path: str | os.PathLike) -> None:
        atomic.write_text(path, self.to_junit())


def _check_thresholds(max_drop_pp: float, alpha: float) -> None:
    if not (isinstance(max_drop_pp, (int, float)) and math.isfinite(max_drop_pp) and max_drop_pp >= 0):
        raise BadInput(f"--max-drop must be a non-negative number of percentage points, got {max_drop_pp}")
    if not (isinstance(alpha, (int, float)) and 0 < alpha < 1):
        raise BadInput(f"--alpha must lie strictly between 0 and 1, got {alpha}")


def compare_tables(
    baseline: PassTable,
    current: PassTable,
    max_drop_pp: float = DEFAULT_MAX_DROP_PP,
    alpha: float = DEFAULT_ALPHA,
    allow_missing: bool = False,
    allow_design_change: bool = False,
) -> GateReport:
    _check_thresholds(max_drop_pp, alpha)
    if baseline.design != current.design and not allow_design_change:
        differ = ", ".join(f"{k} {baseline.design.get(k)} → {current.design.get(k)}" for k in
                           sorted(baseline.design.keys() | current.design.keys())
                           if baseline.design.get(k) != current.design.get(k))
        raise BadInput(f"the current run's design differs from the baseline's ({differ}): its pass@1 is not "
                       "comparable; refresh the baseline, or pass --allow-design-change")
    keys = baseline.tasks.keys() | current.tasks.keys()
    variants = order_variants({v for v, _ in keys})
    metrics = order_metrics({m for _, m in keys})
    rows = []
    for variant in variants:
        for metric in metrics:
            key = (variant, metric)
            if key not in keys:
                continue
            if key not in current.tasks:
                rows.append(
                    GateRow(variant, metric, missing="current", only_baseline=sort_tasks(baseline.tasks[key]))
                )
            elif key not in baseline.tasks:
                rows.append(
                    GateRow(variant, metric, missing="baseline", only_current=sort_tasks(current.tasks[key]))
                )
            else:
                rows.append(
                    compare_series(
                        variant, metric, baseline.tasks[key], current.tasks[key], max_drop_pp, alpha
                    )
                )
    if not any(r.compared for r in rows):
        raise BadInput(
            f"baseline {baseline.source} and current {current.source} share no scored "
            "(variant, metric, task): nothing to compare"
        )
    newly_excluded = {}
    for r in rows:
        now = current.excluded.get((r.variant, r.metric), set())
        before = baseline.excluded.get((r.variant, r.metric), set())
        tasks = [t for t in r.only_baseline if t in now and t not in before]
        if tasks:
            newly_excluded[r.name] = tasks
    return GateReport(baseline.source, current.source, max_drop_pp, alpha, rows, allow_missing, newly_excluded,
                      dict(baseline.design))


def run_gate(
    baseline_path: str | os.PathLike,
    current_run_dir: str | os.PathLike,
    max_drop_pp: float = DEFAULT_MAX_DROP_PP,
    alpha: float = DEFAULT_ALPHA,
    allow_missing: bool = False,
    allow_design_change: bool = False,
) -> GateReport:
    """Baseline: a leaderboard JSON export or a run directory; current: a run directory (or an export)."""
    _check_thresholds(max_drop_pp, alpha)
    baseline = load_pass_table(Path(baseline_path))
    current = load_pass_table(Path(current_run_dir))
    return compare_tables(baseline, current, max_drop_pp, alpha, allow_missing, allow_design_change)


def _pct(value: float) -> str:
    return "–" if math.isnan(value) else f"{100 * value:.1f}"


def _p(value: float) -> str:
    return "–" if math.isnan(value) else (f"{value:.3f}" if value >= 0.001 else f"{value:.1e}")


def _ids(tasks: list[str]) -> str:
    shown = ", ".join(f"`{t}`" for t in tasks[:LISTED_TASKS])
    more = f" and {len(tasks) - LISTED_TASKS} more" if len(tasks) > LISTED_TASKS else ""
    return shown + more


def _verdict(report: GateReport) -> str:
    count = len(report.regressions)
    parts = [f"{count} regression{'s' if count > 1 else ''}"] if count else []
    if report.incomplete:
        parts.append(f"incomplete run ({len(report.missing)} series missing or short)")
    if parts:
        return "FAIL: " + ", ".join(parts)
    return "PASS (incomplete run allowed by --allow-missing)" if report.missing else "PASS"


def render_markdown(report: GateReport) -> str:
    lines = [
        f"## fgit-bench regression gate: {_verdict(report)}",
        "",
        f"Baseline `{report.baseline}` vs current `{report.current}`. A regression is a pass@1 drop on the paired "
        f"tasks of more than {report.max_drop_pp:g} pp with exact McNemar p < {report.alpha:g}; every series and "
        "task of the baseline must be scored in the current run."
        + (f" With n = {report.design['n_samples']} samples per task: pass@1-from-n (mean per-task pass rate); "
           "Lost/Gained count the tasks whose rate fell/rose, and p is the paired task bootstrap's (McNemar needs "
           "one outcome per task)." if report.design.get("n_samples", 1) > 1 else ""),
        "",
        "| Variant | Metric | Paired tasks | Baseline % | Current % | Drop (pp) | Lost | Gained | McNemar p | Verdict |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    missing = {r.name for r in report.missing}
    for r in report.rows:
        if not r.compared:
            continue
        verdict = "**REGRESSION**" if r.regression else "ok"
        if r.name in missing:
            verdict += f", {len(r.only_baseline)} task(s) missing"
        lines.append(
            f"| {variant_label(r.variant)} | {r.metric} | {r.paired} | {_pct(r.baseline_rate)} | "
            f"{_pct(r.current_rate)} | {r.drop_pp + 0.0:.1f} | {len(r.lost)} | {len(r.gained)} | "
            f"{_p(r.p_value)} | {verdict} |"
        )
    if report.regressions:
        lines += ["", "### Regressions", ""]
        lines += [f"- {r.name}: lost {_ids(r.lost)}" for r in report.regressions]
    if report.missing:
        title = "Missing from the current run" + (" (allowed by --allow-missing)" if report.allow_missing else "")
        lines += ["", f"### {title}", ""]
        for r in report.missing:
            if r.missing:
                lines.append(f"- {r.name}: the whole series (only in the baseline)")
                continue
            newly = report.newly_excluded.get(r.name, [])
            note = f"; {len(newly)} newly excluded by the ground-truth gate ({_ids(newly)})" if newly else ""
            lines.append(f"- {r.name}: {len(r.only_baseline)} of the baseline's tasks not scored "
                         f"({_ids(r.only_baseline)}){note}")
    skipped = [r for r in report.rows if not r.compared and r.name not in missing]
    if skipped:
        lines += ["", "### Not compared", ""]
        for r in skipped:
            reason = "only in the current run" if r.missing == "baseline" else "no task scored on both sides"
            lines.append(f"- {r.name}: {reason}")
    new_tasks = [r for r in report.rows if r.compared and r.only_current]
    if new_tasks:
        lines += ["", "### Tasks only in the current run (ignored)", ""]
        for r in new_tasks:
            lines.append(f"- {r.name}: {len(r.only_current)} only in the current run ({_ids(r.only_current)})")
    return "\n".join(lines) + "\n"


def render_junit(report: GateReport) -> str:
    """One testcase per (variant, metric): a failure for a regression or a missing series/task (unless allowed),
    skipped when not compared."""
    cases = report.rows
    suite = ET.Element("testsuite", name="fgit-bench-gate", tests=str(len(cases)), errors="0")
    properties = ET.SubElement(suite, "properties")
    for name, value in (
        ("baseline", report.baseline),
        ("current", report.current),
        ("max_drop_pp", f"{report.max_drop_pp:g}"),
        ("alpha", f"{report.alpha:g}"),
    ):
        ET.SubElement(properties, "property", name=name, value=value)
    missing = {r.name for r in report.missing}
    for r in cases:
        case = ET.SubElement(suite, "testcase", classname=f"gate.{r.variant}", name=r.metric)
        if r.name in missing and not report.allow_missing:
            what = "the whole series" if r.missing else f"{len(r.only_baseline)} of the baseline's tasks"
            failure = ET.SubElement(case, "failure", message=f"{r.name}: {what} missing from the current run",
                                    type="missing")
            failure.text = "missing tasks:\n" + "\n".join(r.only_baseline)
            continue
        if not r.compared:
            ET.SubElement(
                case, "skipped", message=f"{r.name}: not compared (missing in {r.missing or 'both'})"
            )
            continue
        summary = (
            f"pass@1 {_pct(r.baseline_rate)}% -> {_pct(r.current_rate)}% on {r.paired} paired tasks "
            f"(drop {r.drop_pp + 0.0:.1f} pp, lost {len(r.lost)}, gained {len(r.gained)}, McNemar p {_p(r.p_value)})"
        )
        if r.regression:
            failure = ET.SubElement(case, "failure", message=summary, type="regression")
            failure.text = "lost tasks:\n" + "\n".join(r.lost)
        else:
            ET.SubElement(case, "system-out").text = summary
    suite.set("failures", str(len(suite.findall("testcase/failure"))))
    suite.set("skipped", str(len(suite.findall("testcase/skipped"))))
    root = ET.Element(
        "testsuites",
        name="fgit-bench gate",
        tests=suite.get("tests"),
        failures=suite.get("failures"),
        skipped=suite.get("skipped"),
    )
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def append_step_summary(markdown: str, environ: dict | None = None) -> bool:
    """Append to $GITHUB_STEP_SUMMARY when GitHub Actions sets it; True if written.

    A summary that cannot be written only warns: the verdict is the exit code, not the summary.
    """
    path = (environ if environ is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(markdown + "\n")
    except OSError as exc:
        print(
            f"fgit-bench: warning: cannot append to GITHUB_STEP_SUMMARY {path}: {exc.strerror}",
            file=sys.stderr,
        )
        return False
    return True
