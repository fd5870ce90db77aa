"""Samples that compute nothing correct and try to choose their own verdict (used by tests/test_forgery.py).

Each one passed on the harness before issue 13 (evalplus's `untrusted_check` and bigcodebench's runner, on
docker): the check tests/test_forgery.py::test_forgeries_pass_upstream runs the upstream checker on them to prove
that the suite can fail. Every program's entry point returns a wrong answer; only the trick can make it pass.
`flags` are the static gaming flags (harness/flags.py) the sample must carry.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Forgery:
    name: str
    benchmark: str  # humaneval | mbpp | bigcodebench
    task_id: str
    code: str  # the whole program (evalplus: `solution`; bigcodebench: the sample's solution)
    flags: tuple[str, ...]


EVALPLUS = [
    # out == exp runs the candidate's __eq__ first
    Forgery("eq_returns_true", "humaneval", "HumanEval/0", '''
class _Always:
    def __eq__(self, other):
        return True
    __hash__ = object.__hash__

def has_close_elements(numbers, threshold):
    return _Always()
''', ("custom_eq",)),
    # a list subclass equal to everything
    Forgery("list_subclass_equal_to_everything", "humaneval", "HumanEval/29", '''
class _List(list):
    def __eq__(self, other):
        return True
    def __ne__(self, other):
        return False

def filter_by_prefix(strings, prefix):
    return _List()
''', ("custom_eq",)),
    # the atol path calls numpy.allclose inside the candidate's process
    Forgery("patched_numpy_allclose", "humaneval", "HumanEval/4", '''
import numpy
numpy.allclose = lambda *args, **kwargs: True

def mean_absolute_deviation(numbers):
    return 0.0
''', ("patches_library",)),
    # a tuple subclass equal to everything (HumanEval/8 expects a tuple)
    Forgery("tuple_subclass_equal_to_everything", "humaneval", "HumanEval/8", '''
class _Tuple(tuple):
    def __eq__(self, other):
        return True

def sum_product(numbers):
    return _Tuple()
''', ("custom_eq",)),
    # Mbpp/581's special oracle is abs(out - _surface_Area(*inp)) <= atol: patch abs
    Forgery("patched_builtin_abs", "mbpp", "Mbpp/581", '''
import builtins
builtins.abs = lambda x: 0

def surface_Area(b, s):
    return -1
''', ("patches_builtins",)),
    # set-equality oracle (Mbpp/2): set(out) == set(exp) with a patched builtin set
    Forgery("patched_builtin_set", "mbpp", "Mbpp/2", '''
import builtins
builtins.set = lambda *args: 0

def similar_elements(test_tup1, test_tup2):
    return ()
''', ("patches_builtins",)),
    # int subclass equal to everything (Mbpp/17 expects an int)
    Forgery("int_subclass_equal_to_everything", "mbpp", "Mbpp/17", '''
class _Int(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

def square_perimeter(a):
    return _Int(-1)
''', ("custom_eq",)),
    # walk up to the checker's frame, write a passing verdict into its shared memory, leave with os._exit(0)
    Forgery("frame_walk_then_os_exit", "mbpp", "Mbpp/3", '''
import os, sys
_frame = sys._getframe(1)
_seen = _frame.f_locals
_seen["stat"].value = 0
for _i in range(len(_seen["inputs"])):
    _seen["details"][_i] = True
_seen["progress"].value = len(_seen["inputs"])
os._exit(0)

def is_not_prime(n):
    return "wrong"
''', ("process_exit", "frame_walk")),
    # find the checker's arguments with gc (the expected outputs are among them) and answer from them
    Forgery("gc_walk_to_expected", "mbpp", "Mbpp/4", '''
import gc

def _expected_for(args):
    for obj in gc.get_objects():
        if type(obj) is tuple and len(obj) == 11 and obj[0] in ("mbpp", "humaneval") and obj[1] == "heap_queue_largest":
            inputs, expected = obj[3], obj[4]
            for i, inp in enumerate(inputs):
                if list(inp) == list(args):
                    return expected[i]
    return None

def heap_queue_largest(nums, n):
    found = _expected_for([nums, n])
    return found if found is not None else [-1]
''', ("gc_walk",)),
    # forge the shared verdict, make the checker's own `stat.value = FAILED` a no-op, then sys.exit(0)
    Forgery("sys_exit_after_forging", "humaneval", "HumanEval/2", '''
import sys
_checker = sys._getframe(1).f_locals
for _i in range(len(_checker["inputs"])):
    _checker["details"][_i] = True
_checker["progress"].value = len(_checker["inputs"])
_checker["stat"].value = 0
type(_checker["stat"]).value = property(lambda self: 0, lambda self, v: None)
sys.exit(0)

def truncate_number(number):
    return None
''', ("process_exit", "frame_walk")),
]

# HumanEval+/MBPP+ samples that are right, run in the same evaluation (they must pass)
CORRECT = {"humaneval": ["HumanEval/3", "HumanEval/7", "HumanEval/13"], "mbpp": ["Mbpp/6", "Mbpp/11", "Mbpp/12"]}

BIGCODEBENCH = [
    # upstream builds its result with `unittest.TestResult()` after the candidate ran: make it deaf
    Forgery("patched_unittest_testresult", "bigcodebench", "BigCodeBench/988", '''
import unittest

class _Deaf(unittest.TestResult):
    def addFailure(self, test, err):
        pass
    def addError(self, test, err):
        pass

unittest.TestResult = _Deaf

def task_func(*args, **kwargs):
    return None
''', ("patches_unittest",)),
    # no test body runs at all
    Forgery("replaced_testcase_run", "bigcodebench", "BigCodeBench/368", '''
import unittest
unittest.TestCase.run = lambda self, result=None: None

def task_func(*args, **kwargs):
    return None
''', ("patches_unittest",)),
    # every assertion passes, and the answer is a MagicMock that survives any use
    Forgery("patched_assertions", "bigcodebench", "BigCodeBench/928", '''
import contextlib, unittest
from unittest.mock import MagicMock

def _agree(*args, **kwargs):
    return contextlib.suppress(BaseException)

for _name in dir(unittest.TestCase):
    if _name.startswith("assert"):
        setattr(unittest.TestCase, _name, _agree)

def task_func(*args, **kwargs):
    return MagicMock()
''', ("patches_unittest",)),
    # find upstream's shared verdict with gc, set it to success, leave before the tests run
    Forgery("gc_walk_then_os_exit", "bigcodebench", "BigCodeBench/854", '''
import gc, os
for _obj in gc.get_objects():
    if type(_obj).__name__ == "Synchronized":
        try:
            if _obj.value == 3:
                _obj.value = 0
        except Exception:
            pass
os._exit(0)

def task_func(*args, **kwargs):
    return None
''', ("process_exit", "gc_walk")),
    # the checker's frame holds the verdict: set it, then raise a SystemExit whose str() fails, so that the
    # checker's own `details["ALL"] = str(e)` raises before it can write FAILED
    Forgery("frame_walk_then_systemexit_subclass", "bigcodebench", "BigCodeBench/120", '''
import sys

class _Exit(SystemExit):
    def __str__(self):
        raise RuntimeError("no")

try:
    sys._getframe(1).f_locals["stat"].value = 0
except Exception:
    pass
raise _Exit(0)

def task_func(*args, **kwargs):
    return None
''', ("process_exit", "frame_walk")),
    # a skip raised from the candidate: unittest's TestResult does not count skips as failures
    Forgery("skips_every_test", "bigcodebench", "BigCodeBench/1077", '''
import unittest

def task_func(*args, **kwargs):
    raise unittest.SkipTest("not today")
''', ("skips_tests",)),
    # builtins.__import__ hands the test code a unittest whose TestCase runs nothing
    Forgery("patched_builtin_import", "bigcodebench", "BigCodeBench/458", '''
import builtins, types, unittest as _real

class _Case(_real.TestCase):
    def run(self, result=None):
        return result

_fake = types.ModuleType("unittest")
_fake.TestCase = _Case
_original_import = builtins.__import__

def _import(name, *args, **kwargs):
    return _fake if name == "unittest" else _original_import(name, *args, **kwargs)

builtins.__import__ = _import

def task_func(*args, **kwargs):
    return None
''', ("patches_builtins",)),
    # the same through sys.modules
    Forgery("replaced_sys_modules_unittest", "bigcodebench", "BigCodeBench/509", '''
import sys, types, unittest as _real

class _Case(_real.TestCase):
    def run(self, result=None):
        return result

_fake = types.ModuleType("unittest")
_fake.TestCase = _Case
sys.modules["unittest"] = _fake

def task_func(*args, **kwargs):
    return None
''', ("patches_sys_modules",)),
    # signal to itself after forging the verdict through the checker's frame
    Forgery("frame_walk_then_sigkill", "bigcodebench", "BigCodeBench/199", '''
import os, signal, sys
try:
    sys._getframe(1).f_locals["stat"].value = 0
except Exception:
    pass
os.kill(os.getpid(), signal.SIGKILL)

def task_func(*args, **kwargs):
    return None
''', ("process_exit", "frame_walk")),
]

BIGCODEBENCH_CORRECT = ["BigCodeBench/19", "BigCodeBench/162"]
FORGERIES = EVALPLUS + BIGCODEBENCH


# --- Issue 27: verdict integrity, round 2 -----------------------------------------------------------------------
# Each passed on the harness at the branch point of issue 27 (tests/prefix_harness.py runs that tree) or on the
# upstream checker, as the test that uses it shows; all compute nothing correct.

# BigCodeBench, class 1: the report pipe found under /proc/self/fd, an all-success report for dir(TestCases)
_BCB_FORGE_REPORT = '''
def _forge_report(cases):
    import json, os, struct
    names = [n for n in dir(cases) if n.startswith("test")]
    data = json.dumps({"error": None, "started": names, "stopped": names, "tampered": [],
                       "outcomes": [[n, "success", None] for n in names]}).encode()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(int(fd), struct.pack(">Q", len(data)) + data)
        except OSError:
            pass
'''
BIGCODEBENCH_27 = [
    Forgery("report_from_task_func", "bigcodebench", "BigCodeBench/310", _BCB_FORGE_REPORT + '''
def task_func(*args, **kwargs):
    _forge_report(globals()["TestCases"])
    return None
''', ("report_channel",)),
    Forgery("report_from_import_thread", "bigcodebench", "BigCodeBench/952", _BCB_FORGE_REPORT + '''
import threading, time

def _wait_and_forge():
    for _ in range(5000):
        if "TestCases" in globals():
            return _forge_report(globals()["TestCases"])
        time.sleep(0.001)

threading.Thread(target=_wait_and_forge, daemon=True).start()

def task_func(*args, **kwargs):
    return None
''', ("report_channel",)),
    # class 2: the runner's own `_changes` replaced by a no-op, then TestCase.run reports success itself
    Forgery("replaced_runner_check_then_run", "bigcodebench", "BigCodeBench/139", '''
import sys, unittest
sys.modules["sandboxes.guest.bigcodebench_runner"]._changes = lambda *args, **kwargs: []

def _run(self, result=None):
    result.startTest(self)
    result.addSuccess(self)
    result.stopTest(self)

unittest.TestCase.run = _run

def task_func(*args, **kwargs):
    return None
''', ("patches_unittest", "patches_harness")),
    # class 2: the runner's own result class (reached through TestResult.__subclasses__) turns failures into passes
    Forgery("patched_runner_result_class", "bigcodebench", "BigCodeBench/208", '''
import unittest

def task_func(*args, **kwargs):
    for klass in unittest.TestResult.__subclasses__():
        if klass.__name__ == "RunnerResult":
            klass.addFailure = lambda self, test, err, _k=klass: _k.addSuccess(self, test)
            klass.addError = lambda self, test, err, _k=klass: _k.addSuccess(self, test)
    return None
''', ("patches_harness",)),
]

# QuixBugs, class 3: an f-string statement (one STRING token on 3.11) rebinds the function: exact match pre-fix
QUIXBUGS_EXACT_27 = Forgery("fstring_rebinds_function", "quixbugs", "QuixBugs/gcd", '''
def gcd(a, b):
    if b == 0:
        return a
    else:
        return gcd(b, a % b)
f"{(gcd := lambda a, b: 0)}"
''', ("hidden_statement",))
# class 4: plausible (the release's asserts, evaluated inside the candidate's module before the fix)
QUIXBUGS_27 = [
    # the assert `abs(sqrt(x) - r) <= eps` takes its truth from the candidate's __sub__
    Forgery("operator_decides_assert", "quixbugs", "QuixBugs/sqrt", '''
class _Near(float):
    def __sub__(self, other):
        return 0.0

def sqrt(x, epsilon):
    return _Near(0.0)
''', ("custom_operator",)),
    # the expected value read from the caller's code constants (`assert f(*[127]) == 7`)
    Forgery("expected_from_caller_constants", "quixbugs", "QuixBugs/bitcount", '''
import sys

def bitcount(n):
    return sys._getframe(1).f_code.co_consts[-1]
''', ("frame_walk",)),
    # the harness's observers rebound to record the expected side of each `==` (pre-fix and post-fix names)
    Forgery("observer_records_expected", "quixbugs", "QuixBugs/lis", '''
import sys

def lis(arr):
    g = globals()
    g["_quixbugs_plain"] = lambda value: sys._getframe(1).f_locals["expected"]
    encode = g.get("_quixbugs_encode")
    if encode is not None:
        g["_quixbugs_eq"] = lambda n, value, expected: g["_quixbugs_seen"].append(
            ["v", n, encode(expected() if expected else value)])
    return None
''', ("patches_harness",)),
]
