"""Issue 27, classes 5 and 6: programs that compute nothing and take a working program from what the sandbox kept
(used by tests/test_forgery_relay.py; with tests/forgery_programs.py, the forgery suite).

- `residue_reader(entry_point)`: makes itself dumpable again (PR_SET_DUMPABLE), reads its own memory through
  /proc/self/mem (a forked child inherits the worker's freed heap), finds the longest compilable `def <entry>(`
  block that is not its own, and runs it. Before the fix the worker that forks candidates had computed the ground
  truth (`prompt + canonical_solution`) itself.
- `ipc_planter(solution)`: a correct program that also leaves its own text in System V shared memory;
  `ipc_reader(entry_point)`: runs whatever it finds there. Before the fix the IPC namespace outlived every sample
  of a worker.
Both are evalplus-style samples (HumanEval+, MBPP+, the synthetic GRPO tasks): the whole program as `solution`.
"""

from __future__ import annotations

_SHM_KEY = 0x27F0

_RESIDUE = '''
def _r_block(text):
    lines = text.split("\\n")
    out = [lines[0]]
    for line in lines[1:]:
        if line.strip() and not line.startswith((" ", "\\t")):
            break
        out.append(line)
    return "\\n".join(out)


def _r_read(path):
    import os
    fd, chunks = os.open(path, os.O_RDONLY), []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            os.close(fd)
            return b"".join(chunks).decode()
        chunks.append(chunk)


def _r_scan(name):
    import ctypes, os
    ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE: the worker cleared it, a child may set it again
    head, best = ("def " + name + "(").encode(), ""
    mem = os.open("/proc/self/mem", os.O_RDONLY)  # not open(): evalplus's guard sets builtins.open to None
    for row in _r_read("/proc/self/maps").splitlines():
        fields = row.split()
        low, high = (int(x, 16) for x in fields[0].split("-"))
        if not fields[1].startswith("rw") or high - low > 1 << 28:
            continue
        try:
            data = os.pread(mem, high - low, low)
        except (OSError, ValueError, OverflowError):
            continue
        at = data.find(head)
        while at >= 0:
            end = data.find(b"\\0", at, at + 20000)
            block = _r_block(data[at:end if end > 0 else at + 20000].decode("utf-8", "ignore"))
            if len(block) > len(best) and "_R_FN" not in block and "_r_scan" not in block:
                try:
                    compile(block, "<residue>", "exec")
                    best = block
                except (SyntaxError, ValueError):
                    pass
            at = data.find(head, at + 1)
    return best


def _r_load(name):
    namespace = {}
    try:
        exec("from typing import *\\nimport math, re, collections, itertools, heapq\\n" + _r_scan(name), namespace)
    except Exception:
        pass
    return namespace.get(name)


_R_FN = _r_load(ENTRY)


def ENTRY(*args):
    return _R_FN(*args) if _R_FN is not None else None
'''


def residue_reader(entry_point: str) -> str:
    return _RESIDUE.replace("ENTRY(", f"{entry_point}(").replace("(ENTRY)", f"({entry_point!r})")


_PLANT = f'''
def _plant(text):
    import ctypes
    libc = ctypes.CDLL(None)
    libc.shmat.restype = ctypes.c_void_p
    data = text.encode()
    shmid = libc.shmget({_SHM_KEY}, 1 << 16, 0o1666)
    if shmid >= 0:
        address = libc.shmat(shmid, None, 0)
        if address not in (None, ctypes.c_void_p(-1).value):
            ctypes.memmove(address, data + b"\\0", len(data) + 1)
    return True


_PLANTED = _plant(PROGRAM)


def ENTRY(*args):
    return _PLANTED and _relay_impl(*args)
'''


def ipc_planter(solution: str, entry_point: str) -> str:
    """`solution` (a correct program defining `entry_point`) that also plants its own text for later samples. Every
    part hangs off the entry point, so evalplus's sanitizer (GRPO's extraction) keeps it."""
    import re

    renamed = re.sub(rf"\bdef {entry_point}\(", "def _relay_impl(", solution)
    return renamed.rstrip() + "\n\n" + _PLANT.replace("PROGRAM", repr(solution)).replace("ENTRY", entry_point)


_READ = f'''
def _read():
    import ctypes
    libc = ctypes.CDLL(None)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget({_SHM_KEY}, 0, 0o666)
    if shmid < 0:
        return ""
    address = libc.shmat(shmid, None, 0)
    if address in (None, ctypes.c_void_p(-1).value):
        return ""
    return ctypes.string_at(address).decode("utf-8", "ignore")


def _run(text):
    namespace = {{}}
    try:
        exec(text, namespace)
    except Exception:
        pass
    return namespace


_RELAYED = _run(_read())


def ENTRY(*args):
    return _RELAYED["ENTRY"](*args) if "ENTRY" in _RELAYED else None
'''


def ipc_reader(entry_point: str) -> str:
    return _READ.replace("ENTRY", entry_point)
