"""What a sandbox's namespaces keep alive after every process of a sample is gone, removed and checked (issue 27).

Killing the processes and emptying /tmp, /workspace and /dev/shm (worker._sweep) leaves objects that belong to a
namespace rather than to a process: System V shared memory, message queues and semaphore sets (the IPC
namespace: docker and bwrap give each worker a private one, which lives as long as the worker), POSIX message
queues (the same namespace, visible where an mqueue file system is mounted at /dev/mqueue), and keys in the user
and user-session keyrings (per user namespace). In one GRPO batch a completion that computed nothing earned reward
1.0 by running what an earlier completion had planted in System V shared memory. Abstract unix sockets and pipes
need a process to hold them, so they end with the kill.

Removal uses the kernel's own interfaces (IPC_RMID, unlink, KEYCTL_CLEAR) through ctypes from the standard
library; afterwards the same listings are read again, and whatever is still there is reported: the worker is then
retired and the next sample starts in a fresh sandbox. Only the worker that is PID 1 of its own namespaces runs
this (never a host process).
"""

from __future__ import annotations

import os

IPC_RMID = 0
_SYSV = (("shm", "shmctl"), ("msg", "msgctl"), ("sem", "semctl"))
MQUEUE_DIR = "/dev/mqueue"
KEYCTL_CLEAR = 7
KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -4, -5


def sysv_ids(kind: str) -> list[int]:
    """The ids of the System V IPC objects of `kind` (shm, msg, sem) in this IPC namespace."""
    try:
        with open(f"/proc/sysvipc/{kind}") as handle:
            rows = handle.read().splitlines()[1:]
    except OSError:
        return []
    ids = []
    for row in rows:
        fields = row.split()
        if len(fields) > 1 and fields[1].isdigit():
            ids.append(int(fields[1]))
    return ids


def mqueues() -> list[str]:
    try:
        return [entry.name for entry in os.scandir(MQUEUE_DIR)]
    except OSError:
        return []


def own_user_namespace() -> bool:
    """True inside a user namespace (bwrap --unshare-user): its keyrings are the sandbox's own, not the host
    user's, so they may be cleared. In docker keyctl is refused by the default seccomp profile."""
    try:
        with open("/proc/self/uid_map") as handle:
            return handle.read().split() != ["0", "0", "4294967295"]
    except OSError:
        return False


def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def sweep_residue() -> list[str]:
    """Remove every namespace-held object; return a description of those still present afterwards."""
    try:
        libc = _libc()
    except OSError:
        libc = None
    for kind, call in _SYSV:
        for ident in sysv_ids(kind) if libc is not None else ():
            if kind == "sem":
                libc.semctl(ident, 0, IPC_RMID)
            else:
                getattr(libc, call)(ident, IPC_RMID, None)
    for name in mqueues():
        try:
            os.unlink(os.path.join(MQUEUE_DIR, name))
        except OSError:
            pass
    if libc is not None and own_user_namespace():
        for keyring in (KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING):
            libc.syscall(_SYS_KEYCTL, KEYCTL_CLEAR, keyring)
    return leftovers()


def leftovers() -> list[str]:
    left = [f"{len(ids)} System V {kind} object(s)" for kind, _ in _SYSV if (ids := sysv_ids(kind))]
    if queues := mqueues():
        left.append(f"{len(queues)} POSIX message queue(s)")
    if own_user_namespace() and (keys := _user_keys()):
        left.append(f"{keys} key(s) in the user keyrings")
    return left


def _user_keys() -> int:
    """Keys (not keyrings) this process can see in /proc/keys: after a clear, none should be left."""
    try:
        with open("/proc/keys") as handle:
            return sum(1 for row in handle if len(row.split()) > 7 and row.split()[7] not in ("keyring",))
    except OSError:
        return 0


_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}.get(os.uname().machine, 250)
