"""Docker images for the sandbox environments: `fgit-bench sandbox build`.

Two ways to the same image (tag `Environment.image_tag()`):
- offline (no registry needed, the default where none answers): `mmdebstrap --variant=essential` makes a Debian root
  filesystem with the recipe's Debian packages, `docker import` turns it into a base image (cached under its own
  tag), and a generated Dockerfile `FROM` it copies in the pure-Python distributions the host interpreter has
  installed (e.g. evalplus 0.3.1) and any whole host trees (a venv and its interpreter);
- registry: `docker build` of the environment's Dockerfile (base image pinned by digest, requirements pinned).

Builds are idempotent: every image carries a label with the hash of its inputs, and an image whose label matches
is reused without building anything. The image records the interpreter the worker runs with (`fgit-bench.python`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from harness.core.errors import InfraError
from harness.core.hashing import json_digest, tree_digest


@dataclass(frozen=True)
class ImageRecipe:
    """How `fgit-bench sandbox build` makes an environment's Docker image (sandboxes/image_build.py).

    Offline (no registry): a Debian root filesystem made by mmdebstrap with `debian_packages`, `docker import`ed,
    then the pure-Python `host_distributions` copied from the environment's host interpreter into `site_packages`,
    and each of `host_trees` (e.g. a venv and the interpreter it points to) copied to the same absolute path.
    With a registry: `registry_dir` holds a Dockerfile (base image pinned by digest, requirements pinned)."""

    python: str = "python3"  # the interpreter inside the image, runs `-m sandboxes.guest.worker`
    debian_suite: str = "bookworm"
    debian_packages: tuple[str, ...] = ("python3",)
    host_distributions: tuple[str, ...] = ()
    site_packages: str = "/usr/local/lib/python3.11/dist-packages"
    host_trees: tuple[str, ...] = ()
    smoke_test: str = "import sys"  # Python that must run in the finished image
    registry_dir: str | None = None



class Environment(Protocol):
    """What the builder needs of a `sandboxes.environments.Environment` (which imports this module)."""

    name: str

    def image_tag(self) -> str: ...

    def host_python(self) -> str: ...


LABEL_HASH = "fgit-bench.input-hash"
LABEL_PYTHON = "fgit-bench.python"
LABEL_ENVIRONMENT = "fgit-bench.environment"
ROOTFS_REPOSITORY = "fgit-bench/rootfs"
REGISTRY_PROBE = "docker.io/library/python:3.11-slim"
MMDEBSTRAP_HINT = ("mmdebstrap is not installed: `apt-get install -y mmdebstrap` (Debian/Ubuntu), "
                   "or build from a registry with `fgit-bench sandbox build --registry`")


def log(message: str) -> None:
    print(f"fgit-bench: {message}", file=sys.stderr, flush=True)


def registry_reachable(client) -> bool:
    """Whether the daemon can resolve an image on Docker Hub (asks the registry, pulls nothing)."""
    try:
        client.api.inspect_distribution(REGISTRY_PROBE)
        return True
    except Exception:  # noqa: BLE001  (any failure means: build offline)
        return False


def current_image(client, tag: str, input_hash: str):
    """The image under `tag` when it was built from exactly these inputs, else None."""
    import docker.errors

    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    return image if (image.labels or {}).get(LABEL_HASH) == input_hash else None


def build_recipe_image(env: Environment, recipe: ImageRecipe, client, offline: bool | None = None) -> str:
    """Build `env`'s image from `recipe` unless an up-to-date one exists; returns the image id."""
    if offline is None:
        offline = not (recipe.registry_dir and registry_reachable(client))
        log(f"{env.name}: {'no registry reachable, building offline' if offline else 'building from the registry'}")
    if offline:
        return _build_offline(env, recipe, client)
    if not recipe.registry_dir:
        raise InfraError(f"environment {env.name!r} has no registry Dockerfile; build it with --offline")
    return _build_registry(env, recipe, client)


def _labels(env: Environment, recipe: ImageRecipe, input_hash: str) -> dict[str, str]:
    return {"fgit-bench": "1", LABEL_ENVIRONMENT: env.name, LABEL_PYTHON: recipe.python, LABEL_HASH: input_hash}


def _docker_build(client, context: Path, tag: str, labels: dict[str, str], **kwargs) -> str:
    """`docker build`; the image the tag pointed to before (now stale) is removed when nothing uses it."""
    import docker.errors

    try:
        previous = client.images.get(tag).id
    except docker.errors.ImageNotFound:
        previous = None
    try:
        image, _ = client.images.build(path=str(context), tag=tag, labels=labels, rm=True, forcerm=True, **kwargs)
    except docker.errors.BuildError as exc:
        tail = "".join(str(line.get("stream") or line.get("error") or "") for line in exc.build_log)[-1500:]
        print(tail, file=sys.stderr)
        raise InfraError(f"docker build of {tag} failed: {exc.msg.strip().splitlines()[-1]}") from None
    except docker.errors.APIError as exc:
        raise InfraError(f"docker build of {tag} failed: {exc.explanation or exc}") from None
    if previous and previous != image.id:
        try:
            client.images.remove(previous)
        except docker.errors.APIError:
            pass  # still used by a container, or by another tag
    return image.id


def recipe_identity(recipe: ImageRecipe) -> dict:
    """The recipe as its images' keys see it: the registry build's folder by its contents, not by where this checkout
    keeps it (two checkouts' keys differed by that path alone). Host trees stay paths: a venv copied into an image
    must sit at the same path there."""
    identity = asdict(recipe)
    if recipe.registry_dir:
        folder = Path(recipe.registry_dir)
        identity["registry_dir"] = tree_digest(folder) if folder.is_dir() else None
    return identity


def _build_registry(env: Environment, recipe: ImageRecipe, client) -> str:
    context = Path(recipe.registry_dir)
    tag = env.image_tag()
    input_hash = json_digest({"mode": "registry", "recipe": recipe_identity(recipe), "context": tree_digest(context)})
    image = current_image(client, tag, input_hash)
    if image is not None:
        log(f"{env.name}: image {tag} is up to date ({image.id[:19]})")
        return image.id
    log(f"{env.name}: docker build {context} -> {tag}")
    image_id = _docker_build(client, context, tag, _labels(env, recipe, input_hash), pull=True)
    log(f"{env.name}: built {tag} ({image_id[:19]})")
    return image_id


# --- offline -----------------------------------------------------------------------------------------------

def rootfs_image(client, recipe: ImageRecipe) -> str:
    """A base image made from an mmdebstrap root filesystem of the recipe's packages (built once, cached by tag)."""
    import docker.errors

    packages = sorted(set(recipe.debian_packages))
    key = json_digest({"suite": recipe.debian_suite, "variant": "essential", "packages": packages})[:16]
    tag = f"{ROOTFS_REPOSITORY}:{recipe.debian_suite}-{key}"
    try:
        client.images.get(tag)
        return tag
    except docker.errors.ImageNotFound:
        pass
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise InfraError(MMDEBSTRAP_HINT)
    with tempfile.TemporaryDirectory(prefix="fgit-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        argv = [mmdebstrap, "--variant=essential", f"--include={','.join(packages)}", recipe.debian_suite,
                str(tarball)]
        log(f"{' '.join(argv)}  (once; about a minute)")
        done = subprocess.run(argv, stdout=sys.stderr, stderr=sys.stderr)
        if done.returncode != 0:
            raise InfraError(f"mmdebstrap failed (exit {done.returncode}); is a Debian mirror reachable?")
        repository, _, version = tag.partition(":")
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version,
                                          changes=["ENV PATH=/usr/local/bin:/usr/bin:/bin", "ENV LANG=C.UTF-8"])
    client.images.get(tag)  # raises if the import did not produce it
    log(f"imported the root filesystem as {tag}")
    return tag


_LIST_DISTRIBUTIONS = r"""
import importlib.metadata as md, json, sys
out = {}
for name in sys.argv[1:]:
    try:
        dist = md.distribution(name)
    except md.PackageNotFoundError:
        out[name] = None
        continue
    files = [str(f) for f in (dist.files or []) if not str(f).startswith("..")
             and "__pycache__" not in str(f) and not str(f).endswith(".pyc")]
    out[name] = {"version": dist.version, "root": str(dist.locate_file("")), "files": files}
print(json.dumps(out))
"""


# Files that describe one installation, not the package: RECORD hashes the console scripts, whose shebangs name
# the venv; two checkouts' images differed by them alone.
INSTALL_RECORDS = ("RECORD", "INSTALLER", "REQUESTED", "direct_url.json")


def copied_into_image(relative: str) -> bool:
    """Whether `copy_distributions` copies this installed file (path relative to site-packages)."""
    return not (relative.startswith("..") or "__pycache__" in relative or relative.endswith(".pyc")
                or (".dist-info/" in relative and relative.rsplit("/", 1)[-1] in INSTALL_RECORDS))


def copy_distributions(python: str, names: tuple[str, ...], target: Path) -> dict[str, str]:
    """Copy the installed files of distributions `names` (as `python` sees them) below `target`, laid out as
    in site-packages. Returns name -> version."""
    if not names:
        return {}
    done = subprocess.run([python, "-c", _LIST_DISTRIBUTIONS, *names], capture_output=True, text=True,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    if done.returncode != 0:
        raise InfraError(f"could not list distributions with {python}: {done.stderr.strip()[-300:]}")
    found = json.loads(done.stdout)
    versions = {}
    for name in names:
        info = found.get(name)
        if info is None:
            raise InfraError(f"{name} is not installed for {python}: install it there first")
        root = Path(info["root"])
        for relative in filter(copied_into_image, info["files"]):
            source, destination = root / relative, target / relative
            if source.is_file():
                destination.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, destination)
        versions[name] = info["version"]
    return versions


def trees_signature(trees: tuple[str, ...]) -> list:
    """Cheap identity of big host trees (paths, sizes, mtimes): hashing gigabytes of a venv on every run is not."""
    signature = []
    for tree in trees:
        for root, dirs, files in os.walk(tree):
            dirs.sort()
            for name in sorted(files):
                path = os.path.join(root, name)
                try:
                    stat = os.lstat(path)
                except OSError:
                    continue
                signature.append((path, stat.st_size, stat.st_mtime_ns))
    return signature


def offline_dockerfile(recipe: ImageRecipe, base: str, has_site: bool, has_trees: bool) -> str:
    """The Dockerfile that turns the imported root filesystem into the environment's image."""
    lines = [f"FROM {base}"]
    if has_site:
        lines.append(f"COPY site/ {recipe.site_packages}/")
    if has_trees:
        lines.append("COPY trees/ /")
        # The worker runs as 65534: the trees' existing ancestors (e.g. /root, 0700) must be traversable.
        ancestors = sorted({str(parent) for tree in recipe.host_trees for parent in Path(tree).parents
                            if str(parent) != "/"})
        lines.append(f"RUN {json.dumps(['chmod', 'o+x', *ancestors])}")
    lines += [
        "ENV PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1",
        "USER 65534:65534",
        f"RUN {json.dumps([recipe.python, '-c', recipe.smoke_test])}",  # as the sandbox user, without a shell
        "WORKDIR /tmp",
    ]
    return "\n".join(lines) + "\n"


def _build_offline(env: Environment, recipe: ImageRecipe, client) -> str:
    tag = env.image_tag()
    base = rootfs_image(client, recipe)
    base_id = client.images.get(base).id
    with tempfile.TemporaryDirectory(prefix="fgit-image-") as tmp:
        context = Path(tmp)
        versions = copy_distributions(env.host_python(), recipe.host_distributions, context / "site")
        has_site = (context / "site").is_dir()
        dockerfile = offline_dockerfile(recipe, base, has_site, bool(recipe.host_trees))
        input_hash = json_digest({
            "mode": "offline", "recipe": recipe_identity(recipe), "base": base_id, "dockerfile": dockerfile,
            "site": tree_digest(context / "site") if has_site else None, "versions": versions,
            "trees": trees_signature(recipe.host_trees),
        })
        image = current_image(client, tag, input_hash)
        if image is not None:
            log(f"{env.name}: image {tag} is up to date ({image.id[:19]})")
            return image.id
        for tree in recipe.host_trees:
            shutil.copytree(tree, context / "trees" / tree.lstrip("/"), symlinks=True, dirs_exist_ok=True)
        (context / "Dockerfile").write_text(dockerfile)
        log(f"{env.name}: building {tag} from {base} ({', '.join(f'{k} {v}' for k, v in versions.items())})")
        image_id = _docker_build(client, context, tag, _labels(env, recipe, input_hash), network_mode="none")
    log(f"{env.name}: built {tag} ({image_id[:19]})")
    return image_id
