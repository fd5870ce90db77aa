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
