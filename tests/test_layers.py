"""The layering contracts of pyproject.toml hold (import-linter, as `tox -e lint` runs it), and the checker really
reads this tree: a contract the code breaks is reported broken."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib

import pytest

from tests.conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
        "sys.argv[0] = 'lint-imports'; c()"]


def test_layering_contracts_hold():
    proc = subprocess.run(LINT, capture_output=True, text=True, cwd=REPO, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 2 kept, 0 broken." in proc.stdout, proc.stdout[-3000:]


def _contracts() -> list[dict]:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]["contracts"]


def test_every_child_of_harness_is_in_a_layer():
    # import-linter's layers take no wildcards, so the domain layer names harness's children: a new one must be added
    # there (or it would be checked by no layer)
    [layers] = [c["layers"] for c in _contracts() if c["type"] == "layers"]
    named = {m.strip() for layer in layers for m in layer.replace("|", ":").split(":")}
    children = {f"harness.{p.stem}" for p in (REPO / "harness").iterdir()
                if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").is_file()}
    assert children - named == set(), "children of harness in no layer of pyproject.toml's layers contract"
    assert {"plugins", "sandboxes", "leaderboards"} <= named


@pytest.mark.parametrize(("module", "statement", "contract"), [
    ("harness/core/errors.py", "import harness.app.cli", "layers"),  # the foundation reaching the top
    ("leaderboards/formats.py", "import plugins.api", "layers"),  # a lower layer reaching a higher one
    ("sandboxes/base.py", "import leaderboards", "layers"),  # the two independent siblings
    ("sandboxes/guest/codec.py", "import sandboxes.base", "guest"),  # the guest reaching the host
])
def test_a_deliberately_upward_import_is_reported(tmp_path, module, statement, contract):
    # the repository's own contracts, on a copy of the tree with one import added
    for package in ("harness", "plugins", "sandboxes", "leaderboards"):
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__", "*.json"))
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{statement}  # deliberately upward\n", encoding="utf-8")
    proc = subprocess.run(LINT, capture_output=True, text=True, cwd=tmp_path, timeout=300, stdin=subprocess.DEVNULL,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 1 kept, 1 broken." in proc.stdout, proc.stdout[-3000:]
    broken = [c["name"] for c in _contracts() if (c["type"] == "layers") == (contract == "layers")]
    assert f"{broken[0]} BROKEN" in " ".join(proc.stdout.split()), proc.stdout[-3000:]
    assert module.removesuffix(".py").replace("/", ".") in proc.stdout  # the importing module is named


def test_a_broken_contract_is_reported(tmp_path):
    # the pipeline does import harness.core: forbidding it must fail, naming the import
    config = tmp_path / "contracts.ini"
    config.write_text("[importlinter]\nroot_packages =\n    harness\n\n[importlinter:contract:probe]\n"
                      "name = probe\ntype = forbidden\nsource_modules =\n    harness.app.pipeline\n"
                      "forbidden_modules =\n    harness.core\n")
    proc = subprocess.run([*LINT, "--config", str(config)], capture_output=True, text=True, cwd=REPO, timeout=300,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 1, proc.stdout[-3000:]
    assert "probe BROKEN" in proc.stdout and "harness.app.pipeline" in proc.stdout


def test_looking_up_a_plugin_imports_only_that_plugin():
    # a fully cached run needs the plugins' classes and configs only; torch loads when training starts (issue 12).
    # hotfix imports torch at module level itself: looking it up must still import no other plugin module.
    code = ("import sys; from plugins.api import PLUGINS\nname = sys.argv[1]\nPLUGINS.get(name).config_class()\n"
            "import harness.benchmarks, harness.generation\n"
            "mods = {m for m in sys.modules if m.startswith('plugins.')}\n"
            "others = sorted(n for n in PLUGINS.names() if n != name and PLUGINS._lazy[n] in mods)\n"
            "print(others, 'torch' in sys.modules)")
    for name in ("base", "sft", "dpo", "mutation", "fgit", "hotfix"):
        proc = subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True, cwd=REPO,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.split() == ["[]", str(name == "hotfix")], (name, proc.stdout)
