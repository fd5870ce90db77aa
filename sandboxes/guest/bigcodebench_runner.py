"""A BigCodeBench check that the candidate cannot talk into a pass (runs in the bigcodebench environment).

unittest has to run in the candidate's process, so tampering is made detectable and decisive instead. Compared
with bigcodebench.eval.untrusted_check (which this replaces, keeping its set-up: safe_environment, create_tempdir,
reliability_guard with upstream's limits, swallow_io, time_limit, the `__test__` module, the timeouts):
- the verdict does not live in shared memory the candidate can reach and set (upstream: a `Value` and a Manager
  dict): the child sends one report through a pipe and the worker decides. The pipe is not open in the child
  while candidate code runs (issue 27: a program found it under /proc/self/fd and wrote an all-success report
  first): the child closes it before the candidate is imported and asks the worker for it once, after the run,
  over a socket (SCM_RIGHTS). The worker hands it out once, reads until the child has exited, and accepts exactly
  one report after exactly one request; anything else is "tampered";
- the runner takes its own references to the unittest classes and functions before the candidate is imported,
  runs the suite through them with its own result object (a TestResult subclass defined here), and records every
  start/outcome/stop in its own lists;
- the test methods of `TestCases` are counted statically (ast of the test code, never the candidate's): every
  one must have started, reported exactly one outcome through that result object and stopped; unittest's own
  counters in the same result object (testsRun, failures, errors, skipped) must agree with the runner's record;
- after each test and at the end, the unittest modules, their classes, `builtins`, the assertion helpers of
  numpy/pandas, every `sys.modules` entry that existed before the candidate, and the runner's own module, result
  class and functions (their code objects, checked inline by the running frame, which no rebinding reaches) must
  be the original objects; the checks are local references taken before the candidate runs (issue 27: the
  module global `_changes` could be replaced by a no-op);
- any deviation is `fail`, detail "tampered: ..."; a skip at run time is a fail (no BigCodeBench test skips: a
  skip raised from the candidate would otherwise pass); a child that ends before reporting (sys.exit at module
  level, os._exit, a signal to itself) is `fail`, "exited before the tests completed", never `timeout`.
"""

from __future__ import annotations

import ast
import json
import os
import select
import socket
import struct
import time

from sandboxes.guest.bigcodebench_watch import _changes, _snapshot, _summary

EXITED = "exited before the tests completed"
_HEADER = struct.Struct(">Q")
_MAX_REPORT = 64 << 20
_TRACE_CHARS = 4000


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
    ask_worker, ask_child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child, args=(code, test_code, timeout, max_as, max_data, max_stack,
                                                 (read_fd, write_fd, ask_worker.fileno()), ask_child.fileno()))
    child.start()
    ask_child.close()
    try:
        channel = _Channel(read_fd, write_fd, ask_worker)
        why = channel.collect(time.monotonic() + timeout + 1, child)
    finally:
        ask_worker.close()
    if why == "exited":
        child.join(1.0)
        code_ = child.exitcode
        why = f"{EXITED} ({f'killed by signal {-code_}' if code_ and code_ < 0 else f'exit status {code_}'})"
    if child.is_alive():
        child.kill()
    child.join()
    if why == "timeout":
        return {"status": "timeout", "details": {}}
    if why:
        return {"status": "fail", "details": {"ALL": why}}
    return decide(channel.report, expected)


class _Channel:
    """The worker's side of the report channel: the pipe's read end, its write end until the one hand-over, the
    socket the child asks on. Collects until the child has exited: every report frame and every request."""

    def __init__(self, read_fd: int, write_fd: int, ask: socket.socket):
        self.read_fd, self.write_fd, self.ask = read_fd, write_fd, ask
        self.buffer, self.requests, self.report = bytearray(), 0, None

    def collect(self, deadline: float, child) -> str:
        """"" when exactly one well-formed report came after exactly one request, else why not ("timeout",
        "exited", "tampered: ..."). The child's exit is polled as well as awaited (its sentinel): processes it
        started (a daemon) inherit the pipe and keep it open after the child is gone."""
        try:
            exited = False
            watch = [self.read_fd, self.ask, child.sentinel]
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return "timeout"
                ready, _, _ = select.select(watch, [], [], 0 if exited else min(remaining, 0.05))
                if self.ask in ready and not self._serve():
                    watch.remove(self.ask)  # the child's end is closed: nothing more will ask
                if self.read_fd in ready:
                    chunk = os.read(self.read_fd, 1 << 20)
                    if not chunk:
                        break
                    self.buffer += chunk
                    if len(self.buffer) > _MAX_REPORT:
                        return "tampered: report too large"
                    continue
                if child.sentinel in ready:
                    watch.remove(child.sentinel)
                if exited:
                    break
                exited = child.exitcode is not None  # then one more drain of the pipe and the socket
        finally:
            self._close_write()
            os.close(self.read_fd)
        return self._parse()

    def _serve(self) -> bool:
        """Answer one request: the write end the first time, "no" after. False once the socket is closed."""
        try:
            message = self.ask.recv(64)
        except OSError:
            message = b""
        if not message:
            return False
        self.requests += 1
        try:
            if self.requests == 1 and self.write_fd is not None:
                socket.send_fds(self.ask, [b"ok"], [self.write_fd])
                self._close_write()
            else:
                self.ask.send(b"no")
        except OSError:
            pass
        return True

    def _close_write(self) -> None:
        if self.write_fd is not None:
            os.close(self.write_fd)
            self.write_fd = None

    def _parse(self) -> str:
        frames, offset = [], 0
        while len(self.buffer) - offset >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self.buffer, offset)
            if len(self.buffer) < offset + _HEADER.size + size:
                return "tampered: truncated report"
            frames.append(bytes(self.buffer[offset + _HEADER.size:offset + _HEADER.size + size]))
            offset += _HEADER.size + size
        if offset != len(self.buffer):
            return "tampered: malformed report"
        if self.requests > 1:
            return f"tampered: the report channel was asked for {self.requests} times"
        if len(frames) > 1:
            return f"tampered: {len(frames)} reports on the report channel"
        if not frames:
            return "exited"
        try:
            self.report = json.loads(frames[0])
        except ValueError:
            return "tampered: malformed report"
        return ""


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
        else:  # one passing outcome alone, or failures only (a test and its tearDown may both error)
            kinds = [e[1] for e in per_test.get(name, [])]
            passing = [k for k in kinds if k not in ("failure", "error", "subfailure")]
            if not kinds or len(passing) > 1 or (passing and len(passing) != len(kinds)):
                tampered.append(f"test {name} reported {len(kinds)} outcomes")
    counters = report.get("counters")
    kinds = [e[1] for e in outcomes if isinstance(e, list) and len(e) == 3]
    if not (isinstance(counters, dict) and counters.get("run") == len(started)
            and counters.get("failed") == sum(k in ("failure", "error", "subfailure") for k in kinds)
            and counters.get("skipped") == kinds.count("skip")):
        tampered.append("unittest's own counters disagree with the runner's record")
    if tampered:
        return {"status": "fail", "details": {"ALL": "tampered: " + "; ".join(tampered)[:_TRACE_CHARS]}}
    details = {}
    for name, outcome, trace in outcomes:
        if outcome in ("failure", "error", "subfailure"):
            details[str(trace[0])] = str(trace[1])[-_TRACE_CHARS:]
        elif outcome == "skip":
            details[str(name)] = f"skipped at run time: {trace[1]}"[:_TRACE_CHARS]
    return {"status": "fail" if details else "pass", "details": details}


def _child(code, test_code, timeout, max_as, max_data, max_stack, close_fds, ask_fd) -> None:
    # The report pipe (both ends) and the worker's end of the socket are closed before any candidate code runs:
    # the candidate finds no channel under /proc/self/fd; the pipe's write end comes back after the run.
    for fd in close_fds:
        os.close(fd)
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

    write, dumps, exit_now, recv_fds = os.write, json.dumps, os._exit, socket.recv_fds
    ask = socket.socket(fileno=ask_fd)
    ask_send = ask.send
    snapshot, changes, summary, safe_str, safe_name = _snapshot, _changes, _summary, _safe_str, _safe_name
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
        """Records every event in the runner's own lists, and in unittest's own counters (cross-checked by the
        worker); each stop checks the watched objects again."""

        def startTest(self, test):
            started.append(name_of(test))
            TestResult.startTest(self, test)

        def stopTest(self, test):
            stopped.append(name_of(test))
            TestResult.stopTest(self, test)
            if watched:
                tampered.extend(c for c in changes(watched) if c not in tampered)

        def addSuccess(self, test):
            outcomes.append([name_of(test), "success", None])
            TestResult.addSuccess(self, test)

        def addFailure(self, test, err):
            outcomes.append([name_of(test), "failure", trace_of(self, test, err)])
            TestResult.addFailure(self, test, err)

        def addError(self, test, err):
            outcomes.append([name_of(test), "error", trace_of(self, test, err)])
            TestResult.addError(self, test, err)

        def addSkip(self, test, reason):
            outcomes.append([name_of(test), "skip", [name_of(test), str(reason)]])
            TestResult.addSkip(self, test, reason)

        def addExpectedFailure(self, test, err):
            outcomes.append([name_of(test), "expected_failure", None])
            TestResult.addExpectedFailure(self, test, err)

        def addUnexpectedSuccess(self, test):
            outcomes.append([name_of(test), "unexpected_success", None])
            TestResult.addUnexpectedSuccess(self, test)

        def addSubTest(self, test, subtest, err):
            if err is not None:  # a failed subtest: the test itself then reports no success (as in unittest)
                outcomes.append([name_of(test), "subfailure", trace_of(self, subtest, err)])
            TestResult.addSubTest(self, test, subtest, err)

    # The code of every function the checks run, and of the result class's methods: compared inline below.
    functions = [snapshot, changes, summary, safe_str, safe_name, name_of, trace_of,
                 *[v for v in vars(RunnerResult).values() if isinstance(v, types.FunctionType)]]
    codes = [(f, f.__code__, f.__defaults__, f.__kwdefaults__) for f in functions]

    def send(report: dict) -> None:
        ask_send(b"report")
        try:
            _, fds, _, _ = recv_fds(ask, 16, 1)
        except OSError:
            fds = []
        if not fds:
            exit_now(3)  # the channel was handed out already: the worker counts the requests
        data = dumps(report).encode()
        view = memoryview(_HEADER.pack(len(data)) + data)
        while view:
            view = view[write(fds[0], view):]

    error, result = None, None
    with safe_environment(), create_tempdir():
        import shutil

        rmtree, rmdir, chdir = shutil.rmtree, os.rmdir, os.chdir
        reliability_guard(max_as, max_data, max_stack)
        module = types.ModuleType("__test__")
        module.__dict__.update({"__builtins__": builtins, "__file__": "__test__.py", "__package__": None,
                                "__doc__": None, "sys": sys, "os": os, "environ": os.environ})
        watched.update(snapshot((RunnerResult,)))  # after upstream's guard (which edits builtins), before the candidate
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
            error = f"{EXITED} ({safe_name(exc)} at module level)"
        except BaseException as exc:  # noqa: BLE001  (as upstream: any exception fails the whole task)
            error = safe_str(exc)
        # Inline, in this running frame (rebinding a name or replacing a function's code does not reach it).
        for function, code_, defaults, kwdefaults in codes:
            if (function.__code__ is not code_ or function.__defaults__ is not defaults
                    or function.__kwdefaults__ is not kwdefaults):
                tampered.append(f"the runner's {function.__qualname__} replaced")
        tampered.extend(c for c in changes(watched) if c not in tampered)
        if module.__dict__.get("__builtins__") is not builtins:
            tampered.append("the module's __builtins__ replaced")
        shutil.rmtree, os.rmdir, os.chdir = rmtree, rmdir, chdir
    counters = None
    if result is not None:
        counters = {"run": result.testsRun, "failed": len(result.failures) + len(result.errors),
                    "skipped": len(result.skipped)}
    send({"error": error, "started": started, "stopped": stopped, "outcomes": outcomes,
          "tampered": summary(tampered), "counters": counters})
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
