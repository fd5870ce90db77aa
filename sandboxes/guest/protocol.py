"""Wire protocol between the harness and a worker: frames of an 8-byte big-endian length + a pickle.

A job frame is `(function, payload)`, or `(XFER, path)`: the job's own frame body (a pickle of
`(function, payload)`) is in the file `path`, in the worker's read-only transfer directory (large jobs)."""

from __future__ import annotations

import pickle
import struct

HEADER = struct.Struct(">Q")
MAX_FRAME = 1 << 30
XFER = "__xfer__"


def encode(obj) -> bytes:
    return encode_blob(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def encode_blob(blob: bytes) -> bytes:
    """A frame around an already pickled body."""
    return HEADER.pack(len(blob)) + blob


def read_exact(read, size: int) -> bytes:
    """Read exactly `size` bytes with `read(n)`; EOFError if the stream ends first."""
    chunks = []
    while size:
        chunk = read(size)
        if not chunk:
            raise EOFError("stream closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame(read):
    (size,) = HEADER.unpack(read_exact(read, HEADER.size))
    if size > MAX_FRAME:
        raise EOFError(f"frame of {size} bytes: protocol broken")
    return pickle.loads(read_exact(read, size))


def resolve_job(frame):
    """`(function, payload)` of a job frame, fetching a transferred job from its file."""
    function, payload = frame
    if function == XFER:
        with open(payload, "rb") as handle:
            function, payload = pickle.load(handle)  # not read() + loads(): the frame is large, hold it once
    return function, payload
