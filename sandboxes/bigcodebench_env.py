"""The `bigcodebench` environment: upstream's pinned execution libraries in a Python 3.10 venv (process/bwrap)
or a Docker image (docker), with `bigcodebench==0.2.5` installed `--no-deps` for its checking code.

Why Python 3.10: upstream's Requirements/requirements-eval.txt pins target 3.10 (tensorflow 2.11, numpy 1.21.2 and
scipy 1.7.2 publish no wheels for 3.11+), and its Docker image runs 3.10. The harness itself runs on 3.11, so the
checks run in this separate interpreter; only `sandboxes.guest.worker`/`sandboxes.guest.jobs` (standard library) run inside it.

Profiles (env var FGIT_BENCH_BCB_PROFILE): `full` (default) installs all 70 pinned libraries (about 11 min here);
`ci` installs the handful that the fixed CI task slice (images/bigcodebench/ci-tasks.txt) needs. Each profile
lives in its own venv under the fgit-bench cache, named by a hash of its requirements, and is (re)built only when
that hash's ready-marker is missing: building is idempotent and a half-built venv is discarded.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from harness.core.data import cache_root
from harness.core.errors import BadInput, InfraError
from sandboxes.environments import ENVIRONMENTS, Environment, ImageRecipe

IMAGES_DIR = Path(__file__).resolve().parent / "images" / "bigcodebench"
PROFILES = {"full": "requirements-eval.txt", "ci": "requirements-ci.txt"}
ENV_PROFILE = "FGIT_BENCH_BCB_PROFILE"
ENV_PY310 = "FGIT_BENCH_PY310"
ENV_DIR = "FGIT_BENCH_ENVS"  # where the venvs live (default: <fgit-bench cache>/envs)
BIGCODEBENCH_PIN = "bigcodebench==0.2.5"
PYTHON_MINOR = "3.10"
MARKER = ".fgit-bench-ready.json"


def ci_task_ids() -> list[str]:
    """The fixed CI slice of BigCodeBench-Hard, in file order."""
    lines = (IMAGES_DIR / "ci-tasks.txt").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def find_python310() -> str:
    """$FGIT_BENCH_PY310, else pyenv's newest 3.10, else `python3.10` on PATH."""
    explicit = os.environ.get(ENV_PY310)
    candidates = [explicit] if explicit else []
    if not explicit:
        pyenv = shutil.which("pyenv") or os.path.expanduser("~/.pyenv/bin/pyenv")
        if os.path.exists(pyenv):
            try:
                out = subprocess.run([pyenv, "prefix", PYTHON_MINOR], capture_output=True, text=True, timeout=30)
                if out.returncode == 0 and out.stdout.strip():
                    candidates.append(os.path.join(out.stdout.strip().splitlines()[-1], "bin", "python3.10"))
            except (OSError, subprocess.TimeoutExpired):
                pass
        candidates.append(shutil.which("python3.10"))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                                     capture_output=True, text=True).stdout.strip()
            if version == PYTHON_MINOR:
                return candidate
            if explicit:
                raise InfraError(f"${ENV_PY310}={explicit} is Python {version or '?'}, not {PYTHON_MINOR}")
    raise InfraError(f"BigCodeBench needs Python {PYTHON_MINOR} (upstream's pins target it): install it with "
                     f"`pyenv install 3.10` or put python3.10 on PATH, or set ${ENV_PY310} to its path")


# Imported once per worker, before any check forks: the most used libraries of the tasks (sandboxes/guest/jobs.py).
PRELOAD = ("numpy", "pandas", "matplotlib", "matplotlib.pyplot", "scipy", "scipy.stats", "sklearn", "seaborn")


class BigCodeBenchEnvironment(Environment):
    name = "bigcodebench"
    # Imported by the worker at start (issue 27 gave every job a process of its own: a library a job imports no
    # longer stays in the worker, so each worker's first check paid for two imports of these)
    warm_modules = PRELOAD

    def profile(self) -> str:
        profile = os.environ.get(ENV_PROFILE, "full")
        if profile not in PROFILES:
            raise BadInput(f"${ENV_PROFILE}={profile!r}: expected one of {', '.join(PROFILES)}")
        return profile

    def requirements_file(self) -> Path:
        return IMAGES_DIR / PROFILES[self.profile()]

    def key(self) -> str:
        """Hash of everything that decides the venv's content (requirements, pins, Python minor version)."""
        blob = self.requirements_file().read_bytes() + f"\n{BIGCODEBENCH_PIN}\npython{PYTHON_MINOR}\n".encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    def venv_dir(self) -> Path:
        root = os.environ.get(ENV_DIR) or cache_root() / "envs"
        return Path(root) / f"bigcodebench-{self.profile()}-{self.key()}"

    def host_ready(self) -> tuple[bool, str]:
        marker = self.venv_dir() / MARKER
        if not marker.is_file():
            return False, f"not built ({self.venv_dir()}); `python -m sandboxes.bigcodebench_env` builds it"
        return True, f"{self.profile()} venv {self.venv_dir()}"

    def host_python(self) -> str:
        ready, _ = self.host_ready()
        if not ready:
            self.build_host()
        return str(self.venv_dir() / "bin" / "python")

    def build_host(self) -> None:
        """Create the venv with the profile's pinned requirements; no-op when its ready-marker exists."""
        venv = self.venv_dir()
        venv.parent.mkdir(parents=True, exist_ok=True)
        with open(venv.parent / f".{venv.name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # a second builder waits, then finds the marker
            if (venv / MARKER).is_file():
                return
            python = find_python310()
            print(f"fgit-bench: building the BigCodeBench '{self.profile()}' environment in {venv} "
                  f"(once; the full profile takes about 11 minutes)", file=sys.stderr)
            start = time.monotonic()
            shutil.rmtree(venv, ignore_errors=True)  # a half-built venv from an interrupted build
            pip = [str(venv / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "install",
                   "--progress-bar", "off"]
            steps = [
                [python, "-m", "venv", str(venv)],
                pip + ["-r", str(self.requirements_file())],
                pip + ["--no-deps", BIGCODEBENCH_PIN],
                # The checking code must import; matplotlib is what upstream's guard imports in every check.
                [str(venv / "bin" / "python"), "-c", "import bigcodebench.eval, numpy, matplotlib.pyplot"],
            ]
            for argv in steps:
                done = subprocess.run(argv, stdout=sys.stderr, stderr=sys.stderr, env=_build_env())
                if done.returncode != 0:
                    raise InfraError(f"building the BigCodeBench environment failed at: {' '.join(argv[:6])}")
            freeze = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True,
                                    text=True, check=True).stdout
            (venv / "pip-freeze.txt").write_text(freeze)
            marker = {"profile": self.profile(), "key": self.key(), "python": python,
                      "requirements": str(self.requirements_file()), "bigcodebench": BIGCODEBENCH_PIN,
                      "freeze_sha256": hashlib.sha256(freeze.encode()).hexdigest(),
                      "seconds": round(time.monotonic() - start, 1)}
            (venv / MARKER).write_text(json.dumps(marker, indent=2) + "\n")  # written last: the venv is complete
            print(f"fgit-bench: BigCodeBench environment ready in {marker['seconds']:.0f}s", file=sys.stderr)

    def describe(self) -> dict:
        """Provenance: which profile and venv (its pip freeze hash) ran the checks."""
        try:
            marker = json.loads((self.venv_dir() / MARKER).read_text())
        except (OSError, json.JSONDecodeError):
            marker = {}
        return {"environment": self.name, "profile": self.profile(), "key": self.key(),
                "freeze_sha256": marker.get("freeze_sha256")}

    def image_tag(self) -> str:
        return f"fgit-bench/sandbox-bigcodebench:{self.profile()}-{self.key()}"

    def image_recipe(self, registry: bool = False) -> ImageRecipe:
        """Offline: the host venv and the Python it points to, copied into a Debian root filesystem at the same
        paths (a venv is not relocatable). Registry: images/bigcodebench/Dockerfile (full profile only)."""
        smoke = "import bigcodebench.eval, numpy, matplotlib.pyplot"
        if registry:
            return ImageRecipe(python="python3", smoke_test=smoke,
                               registry_dir=str(IMAGES_DIR) if self.profile() == "full" else None)
        venv = self.venv_dir()
        return ImageRecipe(python=str(venv / "bin" / "python"), debian_packages=IMAGE_DEBIAN_PACKAGES,
                           host_trees=(str(_base_prefix(venv)), str(venv)), smoke_test=smoke)

    def build_image(self, client, offline: bool | None = None) -> str:
        """Build (or reuse) the image for `fgit-bench sandbox build`; returns its id."""
        from sandboxes.image_build import build_recipe_image, registry_reachable

        if offline is None:
            offline = not (self.profile() == "full" and registry_reachable(client))
        if offline:
            self.build_host()  # the image is made from the host venv
        return build_recipe_image(self, self.image_recipe(registry=not offline), client, offline=offline)


# Shared libraries that pyenv's Python and the libraries' wheels link against, found with ldd over the venv, plus
# the command-line tools upstream's Evaluate.Dockerfile installs for tasks that shell out (zip, unzip, procps).
IMAGE_DEBIAN_PACKAGES = ("libbz2-1.0", "libexpat1", "libffi8", "libfontconfig1", "libfreetype6", "libgdbm6",
                         "libgomp1", "liblzma5", "libncursesw6", "libnsl2", "libpng16-16", "libreadline8",
                         "libsqlite3-0", "libssl3", "libstdc++6", "libuuid1", "zlib1g", "procps", "zip", "unzip")


def _base_prefix(venv: Path) -> Path:
    """The installation the venv was made from (pyvenv.cfg `home` is its bin directory)."""
    for line in (venv / "pyvenv.cfg").read_text().splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "home":
            return Path(value.strip()).parent
    raise InfraError(f"{venv}/pyvenv.cfg names no base Python")


def _build_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)  # the harness's own path must not leak into the 3.10 venv's pip
    env.pop("VIRTUAL_ENV", None)
    return env


# Registered once: `python -m sandboxes.bigcodebench_env` runs this file as __main__ and may import it again.
if not ENVIRONMENTS.loaded("bigcodebench"):
    ENVIRONMENTS.register("bigcodebench")(BigCodeBenchEnvironment())


def main(argv: list[str] | None = None) -> int:
    """`python -m sandboxes.bigcodebench_env [build] [full|ci]` builds the host venv (the ground-truth check of a
    built environment is `python -m harness.benchmarks.bigcodebench_check`)."""
    from harness.core.errors import FgitBenchError

    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "build":
        args.pop(0)
    try:
        if args:
            os.environ[ENV_PROFILE] = args[0]
        env = ENVIRONMENTS.get("bigcodebench")
        env.build_host()
        print(env.host_python())
        return 0
    except FgitBenchError as exc:
        print(f"fgit-bench: {exc}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    raise SystemExit(main())
