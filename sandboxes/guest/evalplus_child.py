"""The untrusted half of an evalplus check: run the candidate on the inputs and send back only data.

Why not evalplus's `untrusted_check`: it compares `out == expected` inside the child that ran the candidate (the
candidate's object on the left, the expected outputs and the shared-memory verdict in reach of frame/gc walking),
so a sample can choose its verdict. Here the child never sees an expected output: the worker (which runs no
candidate code) forks it with the inputs only, reads one frame per answer from a pipe, and the harness judges the
decoded answers outside the sandbox (harness/benchmarks/evalplus_judge.py). What stays evalplus's: the child's
set-up (create_tempdir, reliability_guard with EVALPLUS_MAX_MEMORY_BYTES, swallow_io), the per-input `time_limit`
and the stage deadline `min(60, sum(limits)) + 1`, joined for 1 s more.

Frames child -> worker: 8-byte length, 1-byte kind, body. Kinds: `o` an output (codec JSON), `r` the candidate
raised (JSON {"at": "module"|"call", "type": name}), `u` an output the codec refused (too large/deep), `d` done.
With `every_input` (evalplus's `fast_check=False`, GRPO's fraction-of-tests reward) a failed call or a refused
output does not end the stage: `f` (JSON {"at": "call", "type": name} or {"uncheckable": why}) stands for that
input's answer and the next input runs; the worker stores it as {"failed": body} in the answer list.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time

_HEADER = struct.Struct(">QB")
MAX_STAGE_BYTES = 512 << 20  # everything one stage may send back
STAGE_CAP_S = 60.0  # evalplus's EVALPLUS_TIMEOUT_PER_TASK default


def stage_deadline(time_limits: list[float]) -> float:
    """untrusted_check's timeout (min(60, sum) + 1) plus the 1 s its join adds."""
    return min(STAGE_CAP_S, sum(time_limits)) + 2


def run_stage(code: str, entry_point: str, inputs: list, time_limits: list[float], every_input: bool = False) -> dict:
    """One evalplus stage (base or plus) in a forked child: {"answers": [codec JSON], "end", "detail", "seconds"}.
    `end`: done | raised | uncheckable | timeout | exited | too_large. A multiprocessing child, not a bare fork:
    the worker's after-fork hook closes the protocol pipes in it."""
    import multiprocessing

    read_fd, write_fd = os.pipe()
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_child,
                            args=(code, entry_point, inputs, time_limits, read_fd, write_fd, every_input))
    start = time.monotonic()
    child.start()
    os.close(write_fd)
    deadline = start + stage_deadline(time_limits)
    answers: list = []  # codec JSON text per input; {"failed": body} for an `f` frame
    end, detail = None, ""
    buffer, received, exited = bytearray(), 0, False
    try:
        while end is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                end, detail = "timeout", f"no result within {stage_deadline(time_limits):g} s"
                break
            # The child's exit is polled: a process the candidate started may hold the pipe open after it.
            ready, _, _ = select.select([read_fd], [], [], 0 if exited else min(remaining, 0.05))
            if not ready:
                if exited:
                    end = "exited"
                    break
                exited = child.exitcode is not None  # then one more drain of the pipe
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                end = "exited"
                break
            received += len(chunk)
            if received > MAX_STAGE_BYTES:
                end, detail = "too_large", f"more than {MAX_STAGE_BYTES >> 20} MiB of output"
                break
            buffer += chunk
            offset = 0  # frames are parsed in place and the buffer compacted once per read (not once per frame)
            while end is None and len(buffer) - offset >= _HEADER.size:
                size, kind = _HEADER.unpack_from(buffer, offset)
                start_body = offset + _HEADER.size
                if len(buffer) < start_body + size:
                    break
                body = bytes(buffer[start_body:start_body + size]).decode("utf-8", "replace")
                offset = start_body + size
                if kind == ord("o"):
                    answers.append(body)
                elif kind == ord("f"):
                    answers.append({"failed": body})
                elif kind == ord("d"):
                    end = "done"
                elif kind == ord("r"):
                    end, detail = "raised", body
                elif kind == ord("u"):
                    end, detail = "uncheckable", body
                else:
                    end, detail = "malformed", f"frame of unknown kind {kind}"
            del buffer[:offset]
    finally:
        os.close(read_fd)
        if end == "exited":
            child.join(1.0)
            code_ = child.exitcode
            detail = (f"killed by signal {-code_}" if code_ is not None and code_ < 0
                      else f"exit status {code_}" if code_ is not None else "closed its output")
        if child.is_alive():
            child.kill()
        child.join()
    return {"answers": answers, "end": end, "detail": detail, "seconds": time.monotonic() - start}


def _child(code, entry_point, inputs, time_limits, read_fd, write_fd, every_input) -> None:
    os.close(read_fd)
    write = os.write  # taken before the candidate runs; if it breaks them, answers stop and the check fails

    def send(kind: str, body: str) -> None:
        data = body.encode("utf-8", "surrogatepass")
        view = memoryview(_HEADER.pack(len(data), ord(kind)) + data)
        while view:
            view = view[write(write_fd, view):]

    from evalplus.eval import query_maximum_memory_bytes
    from evalplus.eval.utils import create_tempdir, reliability_guard, swallow_io, time_limit

    from sandboxes.guest.codec import CodecError, dumps

    with create_tempdir():
        reliability_guard(maximum_memory_bytes=query_maximum_memory_bytes())
        namespace: dict = {}
        try:
            with swallow_io():
                # dont_inherit: this module's `from __future__ import annotations` must not reach the candidate
                # (evalplus execs it without: an annotation naming an unimported `List` fails there, so here too)
                exec(compile(code, "<string>", "exec", dont_inherit=True), namespace)
                fn = namespace[entry_point]
        except BaseException as exc:  # noqa: BLE001  (any failure of the candidate is its failure)
            send("r", json.dumps({"at": "module", "type": _type_name(exc)}))
            return
        for index, args in enumerate(inputs):
            try:
                with time_limit(time_limits[index]):
                    with swallow_io():
                        out = fn(*args)
            except BaseException as exc:  # noqa: BLE001  (incl. evalplus's TimeoutException: a per-input fail)
                if every_input:
                    send("f", json.dumps({"at": "call", "type": _type_name(exc)}))
                    continue
                send("r", json.dumps({"at": "call", "type": _type_name(exc)}))
                return
            try:
                text = dumps(out)
            except CodecError as exc:
                why = str(exc)
            except BaseException as exc:  # noqa: BLE001  (reading the output ran candidate code that raised)
                why = f"reading the output raised {_type_name(exc)}"
            else:
                send("o", text)
                continue
            if not every_input:
                send("u", why)
                return
            send("f", json.dumps({"uncheckable": why}))
        send("d", "")


def _type_name(exc: BaseException) -> str:
    try:
        return str(type(exc).__name__)[:200]
    except BaseException:  # noqa: BLE001
        return "?"
