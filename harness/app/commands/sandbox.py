"""`fgit-bench sandbox build|check|cleanup`: sandbox images, which backends work here, leftover containers."""

from __future__ import annotations

import inspect
import pkgutil
import sys

from harness.core.errors import BadInput, InfraError


def register(subparsers) -> None:
    p = subparsers.add_parser("sandbox", help="build sandbox images; check which sandbox backends work here")
    commands = p.add_subparsers(dest="sandbox_command", required=True)

    build = commands.add_parser("build", help="build the Docker image(s) of the sandbox environments (cached)")
    build.add_argument("--environment", default="evalplus", help="evalplus | bigcodebench | all")
    mode = build.add_mutually_exclusive_group()
    mode.add_argument("--offline", dest="offline", action="store_const", const=True, default=None,
                      help="mmdebstrap root filesystem + docker import (no registry needed)")
    mode.add_argument("--registry", dest="offline", action="store_const", const=False,
                      help="docker build of the pinned Dockerfile (pulls the base image)")
    build.add_argument("--host", action="store_true",
                       help="also build the host-side environment (venv) that the bwrap and process backends use")
    build.set_defaults(func=run_build)

    check = commands.add_parser("check", help="which sandbox backends work here, and why not")
    check.add_argument("--environment", default="evalplus", help="environment whose image/interpreter to check")
    check.add_argument("--require", default=None, help="comma-separated backends that must work (else exit 3)")
    check.set_defaults(func=run_check)

    cleanup = commands.add_parser("cleanup", help="remove sandbox containers left by harness runs that died")
    cleanup.set_defaults(func=run_cleanup)


def environment_names(choice: str) -> list[str]:
    import sandboxes
    from sandboxes.environments import get_environment

    known = ["evalplus"] + sorted(m.name[: -len("_env")] for m in pkgutil.iter_modules(sandboxes.__path__)
                                  if m.name.endswith("_env"))
    for name in known:
        get_environment(name)  # registers the environments that live in their own modules
    names = known if choice == "all" else [choice]
    for name in names:
        get_environment(name)  # BadInput with did-you-mean for unknown names
    return names


def run_build(args) -> int:
    from sandboxes.docker import _docker_client
    from sandboxes.environments import get_environment

    names = environment_names(args.environment)
    client = _docker_client(timeout=1800)  # InfraError (exit 3) when no daemon answers
    for name in names:
        env = get_environment(name)
        if args.host:
            env.build_host()
        parameters = inspect.signature(env.build_image).parameters
        try:
            image_id = env.build_image(client, offline=args.offline) if "offline" in parameters \
                else env.build_image(client)
        except NotImplementedError as exc:
            raise BadInput(str(exc)) from None
        print(f"{name}: {env.image_tag()} {image_id}")
    return 0


def run_check(args) -> int:
    from sandboxes import AUTO_ORDER, check_backend
    from sandboxes.base import SANDBOXES

    required = {r.strip() for r in (args.require or "").split(",") if r.strip()}
    unknown = required - set(AUTO_ORDER)
    if unknown:
        raise BadInput(f"--require: unknown backend {sorted(unknown)[0]!r} (known: {', '.join(AUTO_ORDER)})")
    missing = []
    for name in AUTO_ORDER:
        if name not in SANDBOXES:
            ok, why = False, "backend module not available"
        else:
            ok, why = check_backend(name, args.environment)
        print(f"{name}: {'ok' if ok else 'unavailable'}: {why}")
        if not ok and name in required:
            missing.append(name)
    sys.stdout.flush()
    if missing:
        raise InfraError(f"required sandbox backend(s) not working here: {', '.join(missing)}")
    return 0


def run_cleanup(args) -> int:
    from sandboxes.docker import cleanup_stale_containers

    removed = cleanup_stale_containers()
    print(f"removed {len(removed)} leftover container(s){': ' + ', '.join(removed) if removed else ''}")
    return 0
