"""The openai backend against a real HTTP server on 127.0.0.1 that fails on purpose (500, 429, 401) and recovers."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.app.cli import main
from tests.conftest import read_jsonl


class Endpoint:
    """A tiny OpenAI-compatible server. `script` is the status of each successive request (then 200 forever,
    or `after` forever); answers write the function the prompt asks for."""

    def __init__(self, script=(), after=200, port=0):
        self.script, self.after = list(script), after
        self.requests: list[tuple[str, dict]] = []
        self.lock = threading.Lock()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with endpoint.lock:
                    endpoint.requests.append((self.path, body))
                    status = endpoint.script.pop(0) if endpoint.script else endpoint.after
                if status != 200:
                    payload = json.dumps({"error": {"message": f"scripted {status}"}}).encode()
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                else:
                    payload = json.dumps(endpoint.answer(self.path, body)).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def answer(path, body):
        usage = {"completion_tokens": 7}
        if path.endswith("/chat/completions"):
            name = re.search(r"def (\w+)\(", body["messages"][-1]["content"]).group(1)
            code = f"Sure:\n```python\ndef {name}(*args):\n    return None\n```\n"
            return {"choices": [{"message": {"role": "assistant", "content": code}}], "usage": usage}
        return {"choices": [{"text": "    return None\n\n\ndef extra():\n    pass\n"}], "usage": usage}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def env(monkeypatch, tmp_path):
    monkeypatch.setenv("FGIT_OPENAI_BACKOFF", "0.01")
    monkeypatch.setenv("FGIT_OPENAI_RETRIES", "3")
    monkeypatch.setenv("FGIT_OPENAI_TIMEOUT", "10")
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    return monkeypatch


def _run(tmp_path, url, env, *extra):
    env.setenv("FGIT_OPENAI_BASE_URL", url)
    out = tmp_path / "samples.jsonl"
    code = main(["generate", "--backend", "openai", "--model", "coder-1", "--benchmark", "humaneval",
                 "--cache-dir", str(tmp_path / "cache"), "--no-progress", "--output", str(out), *extra])
    return code, out


def test_retries_server_errors_and_rate_limits_then_succeeds(tmp_path, env):
    endpoint = Endpoint(script=[500, 429, 503])
    try:
        code, out = _run(tmp_path, endpoint.url, env, "--limit", "1")
    finally:
        endpoint.close()
    assert code == 0
    assert len(endpoint.requests) == 4  # three failures, then the answer
    path, body = endpoint.requests[-1]
    assert path == "/v1/chat/completions" and body["model"] == "coder-1" and body["temperature"] == 0.0
    assert body["messages"][0]["role"] == "system" and "```python\nfrom typing import List" in body["messages"][1]["content"]
    (row,) = read_jsonl(out)
    assert row["task_id"] == "HumanEval/0" and row["backend"] == "openai"
    assert row["solution"] == "def has_close_elements(*args):\n    return None"
    assert row["raw"].startswith("Sure:") and row["n_tokens"] == 7
    assert row["decoding"]["batch_mode"] == "plain"


def test_direct_completion_uses_the_completions_api_with_stop_strings(tmp_path, env):
    endpoint = Endpoint()
    try:
        code, out = _run(tmp_path, endpoint.url, env, "--limit", "2", "--prompt-style", "direct")
    finally:
        endpoint.close()
    assert code == 0
    paths = {path for path, _ in endpoint.requests}
    assert paths == {"/v1/completions"}
    body = endpoint.requests[0][1]
    assert 0 < len(body["stop"]) <= 4 and body["prompt"].startswith("from typing import List")
    rows = read_jsonl(out)
    assert rows[0]["completion"] == "    return None\n\n"  # cut at the "\ndef " stop string
    assert rows[0]["solution"].startswith("from typing import List") and "def extra" not in rows[0]["solution"]


def test_unreachable_endpoint_is_an_infrastructure_error(tmp_path, env, capsys):
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    code, out = _run(tmp_path, f"http://127.0.0.1:{port}/v1", env, "--limit", "1")
    assert code == 3
    lines = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(lines) == 1 and "cannot reach the endpoint" in lines[0] and "after 4 attempts" in lines[0]
    assert not out.exists()


def test_failing_endpoint_keeps_finished_samples_and_the_rerun_sends_only_the_rest(tmp_path, env, capsys):
    broken = Endpoint(script=[200, 200], after=500)
    try:
        code, out = _run(tmp_path, broken.url, env, "--limit", "4", "--batch-size", "1")
    finally:
        broken.close()
    assert code == 3
    line = [line for line in capsys.readouterr().err.splitlines() if "error" in line][0]
    assert "HTTP 500" in line and "2 of 4 tasks finished and cached" in line
    assert not out.exists()

    healthy = Endpoint(port=broken.port)  # the same endpoint, recovered (the URL is part of the cache key)
    try:
        code, out = _run(tmp_path, healthy.url, env, "--limit", "4", "--batch-size", "1")
    finally:
        healthy.close()
    assert code == 0
    assert len(healthy.requests) == 2  # only the two tasks that had failed
    rows = read_jsonl(out)
    assert [r["task_id"] for r in rows] == [f"HumanEval/{i}" for i in range(4)]
    assert [r["cached"] for r in rows] == [True, True, False, False]


def test_rejected_key_is_bad_input(tmp_path, env, capsys):
    endpoint = Endpoint(after=401)
    try:
        code, out = _run(tmp_path, endpoint.url, env, "--limit", "1")
    finally:
        endpoint.close()
    assert code == 2
    assert len(endpoint.requests) == 1  # not retried: it will not get better
    assert "check OPENAI_API_KEY" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize("honours", [True, False])
def test_sampling_sends_per_sample_seeds_and_records_whether_the_server_honours_them(tmp_path, env, honours):
    """n = 2 samples per task: temperature, top-p and each sample's own seed are sent; a probe (the first request
    twice) records whether the server's answers follow the seed (the second server ignores it)."""
    import itertools

    counter = itertools.count()

    class Seeded(Endpoint):
        @staticmethod
        def answer(path, body):
            token = body["seed"] if honours else next(counter)
            return {"choices": [{"message": {"role": "assistant", "content": f"```python\nx = {token}\n```"}}],
                    "usage": {"completion_tokens": 3}}

    endpoint = Seeded()
    try:
        code, out = _run(tmp_path, endpoint.url, env, "--limit", "2", "--n-samples", "2", "--temperature", "0.7",
                         "--top-p", "0.9", "--seed", "11")
    finally:
        endpoint.close()
    assert code == 0
    bodies = [b for _, b in endpoint.requests]
    assert len(bodies) == 4 + 2  # four samples and the probe's repeat of the first
    assert {(b["temperature"], b["top_p"], b["n"]) for b in bodies} == {(0.7, 0.9, 1)}
    assert len({b["seed"] for b in bodies}) == 4
    rows = read_jsonl(out)
    assert [(r["task_id"], r["sample_index"]) for r in rows] == [(f"HumanEval/{t}", i) for t in (0, 1) for i in (0, 1)]
    assert {r["backend_notes"]["seed_honoured"] for r in rows} == {honours}
