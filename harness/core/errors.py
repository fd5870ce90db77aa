"""Exceptions that map to the CLI's exit codes (0 ok, 1 regression, 2 bad input, 3 infrastructure)."""

EXIT_OK = 0
EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2
EXIT_INFRA = 3


class FgitBenchError(Exception):
    """Base class: the message is printed as one line, the exit code is `exit_code`."""

    exit_code = EXIT_INFRA


class BadInput(FgitBenchError):
    """The user's input (files, flags, config) is wrong: nothing was written."""

    exit_code = EXIT_BAD_INPUT


class InfraError(FgitBenchError):
    """Something outside the user's input failed: a sandbox, a daemon, a model server."""

    exit_code = EXIT_INFRA
