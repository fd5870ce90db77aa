"""The layering contracts of pyproject.toml hold (import-linter, as `tox -e lint` runs it), and the checker really
reads this tree: a contract the code breaks is reported broken."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO

LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
        "sys.argv[0] = 'lint-imports'; c()"]


def test_layering_contracts_hold():
    proc = subprocess.run(LINT, capture_output=True, text=True, cwd=REPO, timeout=300, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "Contracts: 5 kept, 0 broken." in proc.stdout, proc.stdout[-3000:]


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
