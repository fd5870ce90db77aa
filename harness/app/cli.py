"""The `fgit-bench` console script: discovers subcommands in `harness.app.commands`, maps errors to exit codes."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import harness.app.commands
from harness import __version__
from harness.app.failures import report_unexpected
from harness.core.errors import EXIT_BAD_INPUT, EXIT_INFRA, FgitBenchError


class _Parser(argparse.ArgumentParser):
    """argparse exits 2 on bad flags already; keep its message to one line."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(EXIT_BAD_INPUT, f"fgit-bench: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fgit-bench", description=__doc__)
    parser.add_argument("--version", action="version", version=f"fgit-bench {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for info in sorted(pkgutil.iter_modules(harness.app.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"harness.app.commands.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from harness.app import catalog

    catalog.install()  # the leaderboard's labels and columns come from the plugin and benchmark registries
    try:
        from harness.core.data import directories

        with directories(getattr(args, "cache_dir", None), getattr(args, "data_dir", None)):
            code = args.func(args)
    except FgitBenchError as exc:
        print(f"fgit-bench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fgit-bench: interrupted; finished work is saved and the next run resumes from it", file=sys.stderr)
        return 130
    except MemoryError:
        print("fgit-bench: error: out of memory", file=sys.stderr)
        return EXIT_INFRA
    except Exception as exc:  # noqa: BLE001 - the exit-code contract: anything unexpected is exit 3, one line
        return report_unexpected(exc, args)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
