"""A real headless browser (Chromium from Debian, installed by bootstrap.sh) loading a page: its DOM after load,
its console messages (script errors land there), and a screenshot."""

from __future__ import annotations

import shutil
import subprocess
import zlib
from pathlib import Path

from tests.sandbox_fixtures import unavailable

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
         "--user-data-dir={profile}"]


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        unavailable("chromium is not installed (bootstrap.sh installs it as root: apt-get install chromium)")
    return found


def _run(page: Path | str, tmp: Path, *extra: str, fragment: str = "") -> subprocess.CompletedProcess:
    flags = [f.format(profile=tmp / "profile") for f in FLAGS]
    url = page if isinstance(page, str) else page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    return subprocess.run([chromium(), *flags, *extra, url], capture_output=True, text=True,
                          timeout=180, stdin=subprocess.DEVNULL)


def load(page: Path | str, tmp: Path, fragment: str = "", settle_ms: int = 0) -> tuple[str, list[str]]:
    """(DOM after load, console lines) of `page` (a file, or a URL), opened at `#fragment`; `settle_ms`: virtual
    time the page gets after load for what it loads lazily (scripts it adds, a JS app's fetches)."""
    proc = _run(page, tmp, "--dump-dom", *([f"--virtual-time-budget={settle_ms}"] if settle_ms else []),
                fragment=fragment)
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    return proc.stdout, console


def screenshot(page: Path, tmp: Path, name: str, size: str = "1400,2400", fragment: str = "",
               settle_ms: int = 0) -> bytes:
    out = tmp / name
    proc = _run(page, tmp, f"--screenshot={out}", f"--window-size={size}",
                *([f"--virtual-time-budget={settle_ms}"] if settle_ms else []), fragment=fragment)
    assert proc.returncode == 0 and out.is_file(), proc.stderr[-2000:]
    return out.read_bytes()


def png_distinct_bytes(png: bytes) -> int:
    """How many distinct byte values the decompressed image data holds: a blank page has a handful (one colour,
    filter bytes), a page with text and charts has many. Decoded here (zlib), no imaging library needed."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    data, pos = b"", 8
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind = png[pos + 4:pos + 8]
        if kind == b"IDAT":
            data += png[pos + 8:pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(data)))


def _pipe_fds(read: int, write: int) -> None:
    """In the child: the DevTools pipe on fds 3 (commands in) and 4 (replies out), copied high first so that
    neither overwrites the other."""
    import os

    high_read, high_write = os.dup(read), os.dup(write)
    os.dup2(high_read, 3)
    os.dup2(high_write, 4)


def wait_for_text(url: str, tmp: Path, needles: list[str], timeout: float = 90) -> str:
    """The page's text once it holds every one of `needles` (a JS app that loads its data after the load event), in
    real time: Chromium driven over --remote-debugging-pipe (DevTools JSON messages, NUL-terminated, on fds 3 and
    4), polling document.body.innerText. AssertionError with the last text seen when they do not all appear."""
    import json
    import os
    import time

    to_chrome_r, to_chrome_w = os.pipe()
    from_chrome_r, from_chrome_w = os.pipe()
    flags = [f.format(profile=tmp / "profile-pipe") for f in FLAGS]
    proc = subprocess.Popen([chromium(), *flags, "--remote-debugging-pipe", "about:blank"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4),
                            preexec_fn=lambda: _pipe_fds(to_chrome_r, from_chrome_w))
    os.close(to_chrome_r)
    os.close(from_chrome_w)
    buffer, counter = b"", [0]

    def call(method: str, params: dict | None = None, session: str | None = None) -> dict:
        nonlocal buffer
        counter[0] += 1
        message = {"id": counter[0], "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(to_chrome_w, json.dumps(message).encode() + b"\0")
        while True:
            while b"\0" not in buffer:
                chunk = os.read(from_chrome_r, 1 << 16)
                assert chunk, "chromium closed the DevTools pipe"
                buffer += chunk
            raw, buffer = buffer.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == counter[0]:
                assert "error" not in reply, reply
                return reply.get("result", {})

    text = ""
    try:
        target = call("Target.createTarget", {"url": url})["targetId"]
        session = call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = call("Runtime.evaluate", {"expression": "document.body ? document.body.innerText : ''",
                                               "returnByValue": True}, session)
            text = str(result.get("result", {}).get("value", ""))
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
    finally:
        os.close(to_chrome_w)
        os.close(from_chrome_r)
        stop(proc)
    raise AssertionError(f"{needles} did not all appear in {url} within {timeout} s; its text: {text[:2000]}")


def stop(proc: subprocess.Popen) -> None:
    """Terminate, then kill if it does not exit within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
