"""Execution environments: which interpreter and libraries a benchmark's checks need.

An environment provides a host interpreter (for the process and bwrap backends) and a Docker image (for docker).
`evalplus` is the harness's own interpreter; `bigcodebench` is a separate environment with upstream's pinned
libraries. `fgit-bench sandbox build` builds them all.
"""

from __future__ import annotations

import functools
import hashlib
import json
import sys
from abc import ABC, abstractmethod
from pathlib import Path

from harness.core.registry import Registry
from sandboxes.image_build import ImageRecipe, build_recipe_image, copied_into_image, recipe_identity

IMAGES_DIR = Path(__file__).resolve().parent / "images"
__all__ = ["ENVIRONMENTS", "Environment", "ImageRecipe", "get_environment"]


class Environment(ABC):
    name: str
    # Modules every worker imports when it starts, so that each job process and candidate inherits them instead of
    # importing them per check (BigCodeBench's heavy libraries). The worker itself never reads a job's payload.
    warm_modules: tuple[str, ...] = ()

    @abstractmethod
    def host_python(self) -> str:
        """Interpreter path for the process and bwrap backends (must be able to import `sandboxes.guest.jobs`' needs)."""

    def host_ready(self) -> tuple[bool, str]:
        return True, "ready"

    def build_host(self) -> None:  # noqa: B027  (optional hook: most environments need no build)
        """Create the host interpreter/venv if it needs building (idempotent)."""

    @abstractmethod
    def image_tag(self) -> str:
        """Docker image tag for this environment."""

    def image_recipe(self) -> ImageRecipe | None:
        """What the generic image builder needs; None when the environment builds its image itself."""
        return None

    def build_image(self, client, offline: bool | None = None) -> str:
        """Build (or find up to date) this environment's image; returns its id. Default: the generic builder."""
        recipe = self.image_recipe()
        if recipe is None:
            raise NotImplementedError(f"environment {self.name!r} has no image recipe")
        return build_recipe_image(self, recipe, client, offline=offline)


ENVIRONMENTS: Registry[Environment] = Registry("sandbox environment", Environment, package="sandboxes",
                                               markers=("ENVIRONMENTS.register",),
                                               group="fgit_bench.environments", instances=True)


class EvalPlusEnvironment(Environment):
    name = "evalplus"

    def host_python(self) -> str:
        return sys.executable

    def image_tag(self) -> str:
        """Tagged by what the image holds (issue 28): two checkouts or versions on one machine get two images
        instead of rebuilding one tag back and forth (which invalidated the other's verdict caches)."""
        version, digest = _distribution_identity("evalplus")
        recipe = json.dumps(recipe_identity(self.image_recipe()), sort_keys=True)
        key = hashlib.sha256(f"{recipe}\n{digest}".encode()).hexdigest()[:12]
        return f"fgit-bench/sandbox-evalplus:{version}-{key}"

    def image_recipe(self) -> ImageRecipe:
        # Debian bookworm's python3 is 3.11, like the harness; numpy/psutil are what evalplus.eval imports.
        return ImageRecipe(
            python="python3",
            debian_packages=("python3", "python3-numpy", "python3-psutil"),
            host_distributions=("evalplus",),
            smoke_test="import numpy, psutil, evalplus.eval, evalplus.gen.util",
            registry_dir=str(IMAGES_DIR / "evalplus"),
        )


ENVIRONMENTS.register("evalplus")(EvalPlusEnvironment())


@functools.cache
def _distribution_identity(name: str) -> tuple[str, str]:
    """(version, sha256 of its installed files' paths and contents) of a distribution of this interpreter: the
    files `image_build.copy_distributions` copies into the image."""
    import importlib.metadata as md

    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        return "missing", "missing"
    digest = hashlib.sha256()
    for relative in sorted(str(f) for f in dist.files or []):
        if not copied_into_image(relative):
            continue
        path = Path(str(dist.locate_file(relative)))
        if path.is_file():
            digest.update(relative.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return dist.version, digest.hexdigest()


def get_environment(name: str) -> Environment:
    import importlib.util

    if name not in ENVIRONMENTS and importlib.util.find_spec(f"sandboxes.{name}_env") is not None:
        __import__(f"sandboxes.{name}_env")  # environments registered by their own modules
    return ENVIRONMENTS.get(name)
