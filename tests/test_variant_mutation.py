"""Mutation variants: universalmutator for real on QuixBugs correct programs, its validity rules, the seeded draw,
and the pipeline with QuixBugs' tests in the process sandbox (mutants that pass the tests are dropped)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from plugins.api import TrainingExample
from plugins.training.variant_mutation import MutationSource, all_mutants
from plugins.training.variants import VariantConfig, attach_variants

QUIXBUGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "QuixBugs-python.jsonl"
RULES = ["universal.rules", "python.rules"]


@pytest.fixture(scope="module")
def quixbugs() -> dict[str, dict]:
    rows = [json.loads(line) for line in QUIXBUGS.read_text(encoding="utf-8").split("\n") if line.strip()]
    return {row["name"]: row for row in rows}


def example(row: dict) -> TrainingExample:
    return TrainingExample(instruction=f"Write `{row['name']}`.", response=f"```python\n{row['solution']}\n```",
                           code=row["solution"], meta={"tests": row["tests"], "task": row["name"]})


def rewritten_lines(a: str, b: str) -> int:
    """How many lines of `a` are not in the common prefix or suffix of the two line lists."""
    x, y = a.splitlines(), b.splitlines()
    prefix = next((i for i, (p, q) in enumerate(zip(x, y, strict=False)) if p != q), min(len(x), len(y)))
    suffix = next((i for i, (p, q) in enumerate(zip(x[::-1], y[::-1], strict=False)) if p != q), min(len(x), len(y)))
    return max(0, len(x) - prefix - suffix)


def test_gcd_mutants_are_valid_single_line_changes_including_hand_checked_ones(quixbugs):
    code = quixbugs["gcd"]["solution"]
    mutants, stats = all_mutants(code, RULES)
    assert stats["rule_mutants"] == stats["out_of_scope"] + stats["invalid"] + stats["redundant"] + stats["valid"]
    assert stats["out_of_scope"] == 0  # gcd is one function: every line is in scope
    assert stats["valid"] == len(mutants) > 5
    for mutant in mutants:
        ast.parse(mutant)  # every kept mutant compiles
        # Regexp rules rewrite one source line (elsewhere some insert `break;` after a line in a loop; gcd has no
        # loop, so those are invalid here and every valid mutant replaces exactly one line).
        assert mutant != code and rewritten_lines(code, mutant) == 1
    # Hand-checked mutants of `if b == 0:` and `return gcd(b, a % b)` (universal.rules' relational and
    # arithmetic operator replacements):
    assert code.replace("if b == 0:", "if b != 0:") in mutants
    assert code.replace("a % b", "a - b") in mutants
    # Redundancy is by bytecode: no two kept mutants compile to the same code.
    from universalmutator.python_handler import buildCode

    signatures = [buildCode(compile(m, "<m>", "exec")) for m in mutants]
    assert len(set(signatures)) == len(signatures)


def test_mutation_inside_strings_is_skipped():
    code = 'def f():\n    return "a + b == c"\n'
    mutants, _ = all_mutants(code, RULES)
    assert all('"a + b == c"' in m or "return None" in m or "pass" in m for m in mutants)


def test_default_scope_leaves_example_usage_alone():
    code = "def area(r):\n    return 3 * r * r\n\n\nprint(area(2) + 1)\n"
    in_definitions, stats = all_mutants(code, RULES)
    assert in_definitions and all(m.endswith("\nprint(area(2) + 1)\n") for m in in_definitions)
    assert stats["out_of_scope"] > 0
    everywhere, stats_all = all_mutants(code, RULES, scope="all")
    assert stats_all["out_of_scope"] == 0
    assert set(in_definitions) < set(everywhere)  # `all` adds the mutants of the usage line
    assert code.replace("area(2) + 1", "area(2) - 1") in everywhere
    # Without definitions every line is in scope.
    script = "x = 2\nprint(x + 1)\n"
    assert all_mutants(script, RULES)[0] == all_mutants(script, RULES, scope="all")[0]


def test_seeded_draw_is_reproducible_and_depends_on_the_seed(quixbugs):
    examples = [example(quixbugs[name]) for name in ("lis", "pascal", "get_factors")]
    draws = {}
    for seed in (0, 0, 1):
        got: list = []
        source = MutationSource(VariantConfig(n_candidates=3, seed=seed))
        source.generate(list(enumerate(examples)), lambda i, c, s, got=got: got.append((i, c, s)))
        assert [len(c) for _, c, _ in got] == [3, 3, 3] and all(s["drawn"] == 3 for _, _, s in got)
        draws.setdefault(seed, []).append(got)
    assert draws[0][0] == draws[0][1]
    assert draws[0][0] != draws[1][0]


def _passes_tests(code: str, tests: str) -> bool:
    """The oracle, independent of the sandbox job: exec code and tests in a fresh namespace, here."""
    namespace: dict = {"__name__": "oracle"}
    try:
        exec(compile(code, "<code>", "exec"), namespace)
        exec(compile(tests, "<tests>", "exec"), namespace)
    except Exception:  # noqa: BLE001
        return False
    return True


def test_mutants_that_pass_the_tests_are_dropped_in_the_process_sandbox(quixbugs, tmp_path):
    """max_sublist_sum: 28 valid mutants, 3 of them pass QuixBugs' tests (hand-checked: `max_so_far = -1` and
    the two argument swaps of `max`); all of them are drawn (n_candidates above the count)."""
    row = quixbugs["max_sublist_sum"]
    config = VariantConfig(n_candidates=1000, test_timeout_s=5.0)
    out, report = attach_variants([example(row)], "mutation", config, None, sandbox_name="process",
                                  cache_dir=tmp_path)
    mutants, _ = all_mutants(row["solution"], RULES)
    passing = [m for m in mutants if _passes_tests(m, row["tests"])]
    assert len(mutants) == 28 and len(passing) == 3
    counts = report["counts"]
    assert counts["generated"] == 28 and counts["passing_tests"] == 3
    assert counts["generated"] == (counts["unparsable"] + counts["identical"] + counts["duplicate"]
                                   + counts["passing_tests"] + counts["candidates_left"])
    assert counts["kept"] == 1 and counts["no_variant"] == 0
    assert report["tests"]["examples_tested"] == 1 and report["tests"]["sandbox"]["backend"] == "process"
    assert report["tests"]["test_runs"] == 29  # the correct code (the control) and the 28 mutants
    (chosen,) = out
    assert chosen.incorrect in mutants and chosen.incorrect not in passing
    assert not _passes_tests(chosen.incorrect, row["tests"])
    assert report["source_stats"]["valid"] == 28
    # The second run generates nothing and takes every verdict from the cache.
    source = MutationSource(config)
    again, report2 = attach_variants([example(row)], source, config, None, sandbox_name="process",
                                     cache_dir=tmp_path)
    assert source.generated == 0 and report2["cache"] == {**report["cache"], "hits": 1, "misses": 0}
    assert report2["tests"]["test_cache_hits"] == 29 and report2["tests"]["sandbox"] is None
    assert again[0].incorrect == chosen.incorrect and report2["counts"] == counts


def test_hanging_mutant_counts_as_failing_and_correct_code_failing_its_tests_disables_the_filter(quixbugs, tmp_path):
    gcd = quixbugs["gcd"]
    broken = example(gcd)
    broken.meta = {**broken.meta, "tests": gcd["tests"] + "\nassert False, 'a test the correct code fails'\n"}
    config = VariantConfig(n_candidates=1000, test_timeout_s=1.0)
    out, report = attach_variants([example(gcd), broken], "mutation", config, None, sandbox_name="process",
                                  cache_dir=tmp_path)
    mutants, _ = all_mutants(gcd["solution"], RULES)
    # `if b <= 0:` passes gcd's tests (no test has b < 0): dropped for the first example only.
    assert report["counts"]["passing_tests"] == 1
    assert report["tests"]["tests_unusable"] == 1 and report["tests"]["examples_tested"] == 1
    assert report["tests"]["verdicts"].get("timeout", 0) >= 1  # `gcd(b, a * b)` never ends
    assert report["counts"]["candidates_left"] == 2 * len(mutants) - 1
    assert [e.meta["variant"]["tested"] for e in out] == [True, False]
