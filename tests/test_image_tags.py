"""Issue 28, item 8: the evalplus sandbox image is tagged by what it holds, so two checkouts (two venvs with the
same evalplus) share one image and two versions get two, instead of rebuilding one tag back and forth. A real
installed distribution in a temporary site directory; the records of an installation (RECORD, INSTALLER,
direct_url.json: they differ between venvs by the console scripts' shebangs) do not count."""

from __future__ import annotations

import importlib.metadata
import re
import sys

import pytest

from sandboxes import environments
from sandboxes.environments import _distribution_identity, get_environment


def _install(site, module_text: str, record: str) -> None:
    (site / "fgitfake").mkdir(parents=True, exist_ok=True)
    (site / "fgitfake" / "__init__.py").write_text(module_text)
    info = site / "fgitfake-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fgitfake\nVersion: 1.0\n")
    (info / "INSTALLER").write_text("pip\n")
    (info / "RECORD").write_text(f"fgitfake/__init__.py,,\n../../../bin/fgitfake,sha256={record},10\n"
                                 f"fgitfake-1.0.dist-info/METADATA,,\nfgitfake-1.0.dist-info/RECORD,,\n"
                                 f"fgitfake-1.0.dist-info/INSTALLER,,\n")


@pytest.fixture
def identity_of(monkeypatch):
    def identity(site):
        monkeypatch.setattr(sys, "path", [str(site), *[p for p in sys.path if "fgitfake" not in p]])
        _distribution_identity.cache_clear()
        try:
            return _distribution_identity("fgitfake")
        finally:
            _distribution_identity.cache_clear()

    return identity


def test_two_installs_of_the_same_package_share_a_tag_and_another_version_does_not(tmp_path, identity_of):
    _install(tmp_path / "venv-a", "VALUE = 1\n", record="shebang-of-venv-a")
    _install(tmp_path / "venv-b", "VALUE = 1\n", record="shebang-of-venv-b")
    _install(tmp_path / "venv-c", "VALUE = 2\n", record="shebang-of-venv-a")
    a, b, c = (identity_of(tmp_path / name) for name in ("venv-a", "venv-b", "venv-c"))
    assert a[0] == "1.0" and a == b  # only the installation's records differ
    assert c[1] != a[1]  # the package's own file differs


def test_the_evalplus_tag_names_the_version_and_a_content_key(monkeypatch):
    tag = get_environment("evalplus").image_tag()
    match = re.fullmatch(r"fgit-bench/sandbox-evalplus:(.+)-([0-9a-f]{12})", tag)
    assert match, tag
    assert match[1] == importlib.metadata.version("evalplus")
    monkeypatch.setattr(environments, "_distribution_identity", lambda name: (match[1], "other content"))
    assert get_environment("evalplus").image_tag() != tag


def test_the_recipe_key_sees_the_registry_folder_by_its_contents_not_its_path(tmp_path):
    """Two checkouts keep images/evalplus at two paths: the same key. A changed Dockerfile: another key."""
    import shutil
    from dataclasses import replace

    from sandboxes.image_build import recipe_identity

    recipe = get_environment("evalplus").image_recipe()
    here, there = tmp_path / "checkout-a" / "evalplus", tmp_path / "checkout-b" / "evalplus"
    shutil.copytree(recipe.registry_dir, here)
    shutil.copytree(recipe.registry_dir, there)
    assert recipe_identity(replace(recipe, registry_dir=str(here))) == recipe_identity(recipe) \
        == recipe_identity(replace(recipe, registry_dir=str(there)))
    (there / "Dockerfile").write_text((there / "Dockerfile").read_text() + "\n# changed\n")
    assert recipe_identity(replace(recipe, registry_dir=str(there))) != recipe_identity(recipe)
