"""A BigCodeBench check that the candidate cannot talk into a pass (runs in the bigcodebench environment).

unittest has to run in the candidate's process, so tampering is made detectable and decisive instead. Compared
with bigcodebench.eval.untrusted_check (which this replaces, keeping its set-up: safe_environment, create_tempdir,
reliability_guard with upstream's limits, swallow_io, time_limit, the `__test__` module, the timeouts):
- the verdict does not live in shared memory the candidate can reach and set (upstream: a `Value` and a Manager
  dict): the child sends one report through a pipe and the worker decides;
- the runner takes its own references to the unittest classes and functions before the candidate is imported,
  runs the suite through them with its own result object (a TestResult subclass defined here), and records every
  start/outcome/stop in its own lists;
- the test methods of `TestCases` are counted statically (ast of the test code, never the candidate's): every
  one must have started, reported exactly one outcome through that result object and stopped;
- after each test and at the end, the unittest modules, their classes, `builtins`, the assertion helpers of
  numpy/pandas and every `sys.modules` entry that existed before the candidate must be the original objects;
- any deviation is `fail`, detail "tampered: ..."; a skip at run time is a fail (no BigCodeBench test skips: a
  skip raised from the candidate would otherwise pass); a child that ends before reporting (sys.exit at module
  level, os._exit, a signal to itself) is `fail`, "exited before the tests completed", never `timeout`.
"""

from __future__ import annotations

import ast
import json
import os
import select
import struct
import time

EXITED = "exited before the tests completed"
_HEADER = struct.Struct(">Q")
_MAX_REPORT = 64 << 20
_TRACE_CHARS = 4000
# Modules whose attributes (and, for unittest's, whose classes' attributes) must be the originals after the run.
WATCHED_MODULES = ("unittest", "unittest.case", "unittest.suite", "unittest.loader", "unittest.result",
                   "unittest.util", "unittest.signals", "builtins", "numpy.testing", "pandas.testing")
WATCHED_NUMPY = ("allclose", "isclose", "array_equal", "array_equiv", "testing")


def static_test_names(test_code: str) -> set[str]:
    """The test methods unittest's loader would find on `TestCases`, read from the test code's syntax tree
    (methods whose name starts with "test", with those of base classes defined in the same code)."""
    tree = ast.parse(test_code)
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}

    def names(class_name: str, seen: set) -> set[str]:
        node = classes.get(class_name)
        if node is None or class_name in seen:
            return set()
        seen.add(class_name)
        found = {item.name for item in node.body
                 if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name.startswith("test")}
        for base in node.bases:
            if isinstance(base, ast.Name):
                found |= names(base.id, seen)
        return found

    return names("TestCases", set())


def run_check(code: str, test_code: str, entry_point: str, max_as: float, max_data: float, max_stack: float,
              min_time_limit: float, gt_time_limit: float) -> dict:
    """{"status", "details"} in untrusted_check's vocabulary, decided here from the child's report."""
    import multiprocessing

    from bigcodebench.eval.utils import TIMEOUT_LIMIT

    timeout = max(float(os.getenv("BIGCODEBENCH_TIMEOUT_PER_TASK", TIMEOUT_LIMIT)),
                  max(min_time_limit, gt_time_limit)) + 1
    try:
        expected = static_test_names(test_code)
    except SyntaxError as exc:
        return {"status": "fail", "details": {"ALL": f"the test code does not parse: {exc}"}}
    read_fd, write_fd = os.pipe()
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child, args=(code, test_code, timeout, max_as, max_data, max_stack,
                                                 read_fd, write_fd))
    child.start()
    os.close(write_fd)
    report, why = _read_report(read_fd, time.monotonic() + timeout + 1, child)
    os.close(read_fd)
    if why == "exited":
        child.join(1.0)
        code_ = child.exitcode
        why = f"{EXITED} ({f'killed by signal {-code_}' if code_ and code_ < 0 else f'exit status {code_}'})"
    if child.is_alive():
        child.kill()
    child.join()
    if report is None:
        return {"status": "timeout" if why == "timeout" else "fail", "details": {} if why == "timeout" else
                {"ALL": why}}
    return decide(report, expected)


def _read_report(fd: int, deadline: float, child):
    """The child's report, or (None, why). The child's exit is polled, not awaited on the pipe: processes it
    started (upstream's Manager, a daemon) inherit the pipe and keep it open after the child is gone."""
    buffer = bytearray()
    exited = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None, "timeout"
        ready, _, _ = select.select([fd], [], [], 0 if exited else min(remaining, 0.05))
        if not ready:
            if exited:
                return None, "exited"
            exited = child.exitcode is not None  # one more drain of the pipe after the exit
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None, "exited"
        buffer += chunk
        if len(buffer) > _MAX_REPORT:
            return None, "tampered: report too large"
        if len(buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(buffer)
            if len(buffer) >= _HEADER.size + size:
                try:
                    return json.loads(bytes(buffer[_HEADER.size:_HEADER.size + size])), ""
                except ValueError:
                    return None, "tampered: malformed report"


def decide(report: dict, expected: set[str]) -> dict:
    """The verdict from the runner's report: tampering first, then upstream's rule (any failure or error fails)."""
    if not isinstance(report, dict):
        return {"status": "fail", "details": {"ALL": "tampered: malformed report"}}
    tampered = [str(t) for t in report.get("tampered") or []]
    if tampered:
        return {"status": "fail", "details": {"ALL": "tampered: " + "; ".join(tampered)[:_TRACE_CHARS]}}
    if report.get("error") is not None:
        return {"status": "fail", "details": {"ALL": str(report["error"])[-_TRACE_CHARS:]}}
    started, stopped = report.get("started") or [], report.get("stopped") or []
    outcomes = report.get("outcomes") or []  # [name, outcome, trace]
    per_test: dict[str, list] = {}
    for entry in outcomes:
        if isinstance(entry, list) and len(entry) == 3:
            per_test.setdefault(str(entry[0]), []).append(entry)
    for name in sorted(expected):
        if started.count(name) != 1 or stopped.count(name) != 1:
            tampered.append(f"test {name} did not run through the runner's result object")
        else:
            terminal = [e for e in per_test.get(name, []) if e[1] != "subfailure"]
            if len(terminal) > 1 or (not terminal and len(per_test.get(name, [])) == 0):
                tampered.append(f"test {name} reported {len(terminal)} outcomes")
    if tampered:
        return {"status": "fail", "details": {"ALL": "tampered: " + "; ".join(tampered)[:_TRACE_CHARS]}}
    details = {}
    for name, outcome, trace in outcomes:
        if outcome in ("failure", "error", "subfailure"):
            details[str(trace[0])] = str(trace[1])[-_TRACE_CHARS:]
        elif outcome == "skip":
            details[str(name)] = f"skipped at run time: {trace[1]}"[:_TRACE_CHARS]
    return {"status": "fail" if details else "pass", "details": details}


def _snapshot() -> dict:
    """The watched objects and, for each, its attributes as they are now: modules by their `sys.modules` name,
    the unittest classes by the class object itself (so a rebinding is reported once, and the original class is
    still compared), and `sys.modules`."""
    import sys

    modules, classes = {}, {}
    for name in WATCHED_MODULES:
        module = sys.modules.get(name)
        if module is None:
            continue
        modules[name] = (module, dict(vars(module)))
        if name.startswith("unittest"):
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__.startswith("unittest") and id(value) not in classes:
                    classes[id(value)] = (value, dict(vars(value)))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        modules["numpy"] = (numpy, {a: getattr(numpy, a) for a in WATCHED_NUMPY if hasattr(numpy, a)})
    return {"modules": modules, "classes": classes, "sys.modules": dict(sys.modules)}


def _changes(before: dict) -> list[str]:
    """What differs now from `before`: replaced or removed module attributes, changed class attributes,
    replaced or removed `sys.modules` entries. Modules may gain attributes (importing a submodule does)."""
    import sys

    found = []
    for name, module in before["sys.modules"].items():
        now = sys.modules.get(name)
        if now is not module:
            found.append(f"sys.modules[{name!r}] {'removed' if now is None else 'replaced'}")
    for name, (module, attrs) in before["modules"].items():
        current = vars(module) if name != "numpy" else {a: getattr(module, a, None) for a in attrs}
        found += [f"{name}.{a} {'removed' if a not in current else 'replaced'}" for a, v in attrs.items()
                  if current.get(a, _MISSING) is not v]
    for klass, attrs in before["classes"].values():
        current = vars(klass)
        label = f"{klass.__module__}.{klass.__qualname__}"
        found += [f"{label}.{a} {'removed' if a not in current else 'replaced'}" for a, v in attrs.items()
                  if current.get(a, _MISSING) is not v]
        found += [f"{label}.{a} added" for a in current if a not in attrs]
    return found


_MISSING = object()


def _summary(changes: list[str]) -> list[str]:
    return changes[:6] + ([f"and {len(changes) - 6} more"] if len(changes) > 6 else [])


def _child(code, test_code, timeout, max_as, max_data, max_stack, read_fd, write_fd) -> None:
    os.close(read_fd)
    # Our own references, taken before the candidate runs.
    import builtins
    import sys
    import types
    import unittest

    from bigcodebench.eval.utils import (
        create_tempdir,
        reliability_guard,
        safe_environment,
        swallow_io,
        time_limit,
    )

    write, dumps, exit_now = os.write, json.dumps, os._exit
    TestCase, TestResult, TestLoader, TestSuite = (unittest.TestCase, unittest.TestResult, unittest.TestLoader,
                                                   unittest.TestSuite)
    suite_run, load = TestSuite.run, TestLoader.loadTestsFromTestCase
    started, stopped, outcomes, tampered = [], [], [], []
    watched: dict = {}

    def name_of(test) -> str:
        return str(object.__getattribute__(test, "_testMethodName"))

    def trace_of(result, test, err) -> list:
        try:
            return [test.id().split(".")[-1], TestResult._exc_info_to_string(result, err, test)]
        except BaseException:  # noqa: BLE001
            return [name_of(test), "unprintable failure"]

    class RunnerResult(TestResult):
        """Records every event in the runner's own lists; each stop checks the watched objects again."""

        def startTest(self, test):
            started.append(name_of(test))
            TestResult.startTest(self, test)

        def stopTest(self, test):
            stopped.append(name_of(test))
            TestResult.stopTest(self, test)
            if watched:
                tampered.extend(c for c in _changes(watched) if c not in tampered)

        def addSuccess(self, test):
            outcomes.append([name_of(test), "success", None])

        def addFailure(self, test, err):
            outcomes.append([name_of(test), "failure", trace_of(self, test, err)])

        def addError(self, test, err):
            outcomes.append([name_of(test), "error", trace_of(self, test, err)])

        def addSkip(self, test, reason):
            outcomes.append([name_of(test), "skip", [name_of(test), str(reason)]])

        def addExpectedFailure(self, test, err):
            outcomes.append([name_of(test), "expected_failure", None])

        def addUnexpectedSuccess(self, test):
            outcomes.append([name_of(test), "unexpected_success", None])

        def addSubTest(self, test, subtest, err):
            if err is not None:  # a failed subtest: the test itself then reports no success (as in unittest)
                outcomes.append([name_of(test), "subfailure", trace_of(self, subtest, err)])

    def send(report: dict) -> None:
        data = dumps(report).encode()
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[write(write_fd, view):]

    error = None
    with safe_environment(), create_tempdir():
        import shutil

        rmtree, rmdir, chdir = shutil.rmtree, os.rmdir, os.chdir
        reliability_guard(max_as, max_data, max_stack)
        module = types.ModuleType("__test__")
        module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py", "__package__": None,
                                "__doc__": None, "sys": sys, "os": os, "environ": os.environ})
        watched.update(_snapshot())  # after upstream's guard (which edits builtins), before the candidate
        try:
            with swallow_io():
                # dont_inherit: no `from __future__ import annotations` of this module for the candidate (upstream's
                # module has none)
                exec(compile(code + "\n" + test_code, "__test__.py", "exec", dont_inherit=True), module.__dict__)
                sys.modules["__test__"] = module
                cases = module.__dict__["TestCases"]
                if not (isinstance(cases, type) and issubclass(cases, TestCase)):
                    tampered.append("TestCases is not a unittest.TestCase")
                suite = load(TestLoader(), cases)
                result = RunnerResult()
                with time_limit(timeout):
                    suite_run(suite, result)
        except SystemExit as exc:
            error = f"{EXITED} ({_safe_name(exc)} at module level)"
        except BaseException as exc:  # noqa: BLE001  (as upstream: any exception fails the whole task)
            error = _safe_str(exc)
        tampered.extend(c for c in _changes(watched) if c not in tampered)
        if module.__dict__.get("__builtins__") is not builtins:
            tampered.append("the module's __builtins__ replaced")
        shutil.rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir
    send({"error": error, "started": started, "stopped": stopped, "outcomes": outcomes,
          "tampered": _summary(tampered)})
    exit_now(0)


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)[-_TRACE_CHARS:]
    except BaseException:  # noqa: BLE001  (an exception whose __str__ raises)
        return f"{_safe_name(exc)} (unprintable)"


def _safe_name(exc: BaseException) -> str:
    try:
        return str(type(exc).__name__)[:200]
    except BaseException:  # noqa: BLE001
        return "?"
