"""OpenAI-compatible endpoints (OpenAI, vLLM's server, llama.cpp's, TGI...): /v1/chat/completions or /v1/completions.

Configuration from the environment: FGIT_OPENAI_BASE_URL or OPENAI_BASE_URL (default https://api.openai.com/v1),
OPENAI_API_KEY, and FGIT_OPENAI_TIMEOUT (s per request, 120), FGIT_OPENAI_RETRIES (5), FGIT_OPENAI_BACKOFF (first
wait in s, 1; doubled on each retry, capped at 60; a Retry-After header wins). Rate limits (429), server errors (5xx),
timeouts and refused connections are retried; other 4xx are the user's to fix (bad key, unknown model): bad input.
`--batch-size` is the number of requests in flight. Only the stdlib is used (no openai package).
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

from harness.core.errors import BadInput, InfraError
from harness.core.hashing import json_digest
from harness.generation.base import (
    BACKENDS,
    Backend,
    BackendIdentity,
    GenerationOutput,
    GenerationRequest,
    OnOutput,
    cut_at_stop,
)

CHAT_API = "openai-chat-api"  # stands in for a chat template: the endpoint formats chat messages itself
_MAX_STOP = 4  # OpenAI accepts at most 4 stop sequences; the rest are cut locally


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    try:
        return float(value) if value else default
    except ValueError:
        raise BadInput(f"{name} must be a number, got {value!r}") from None


@BACKENDS.register("openai")
class OpenAIBackend(Backend):
    name = "openai"
    can_prefill = False  # chat messages cannot end inside the assistant's turn
    batch_moves_outputs = False  # --batch-size is only how many requests are in flight

    def __init__(self, model, decoding, options=None):
        super().__init__(model, decoding, options)
        if not model:
            raise BadInput("--backend openai needs --model NAME (the model name the endpoint serves)")
        base = os.environ.get("FGIT_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
        self.base_url = base.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise BadInput(f"OpenAI base URL must start with http:// or https://, got {base!r}")
        self.api_key = os.environ.get("OPENAI_API_KEY", "")
        self.timeout = _env_float("FGIT_OPENAI_TIMEOUT", 120.0)
        self.retries = int(_env_float("FGIT_OPENAI_RETRIES", 5))
        self.backoff = _env_float("FGIT_OPENAI_BACKOFF", 1.0)
        if decoding.batch_mode == "invariant":
            raise BadInput("--batch-mode invariant needs a local model (hf or vllm); an endpoint batches as it likes")

    def identity(self) -> BackendIdentity:
        # Not content-addressed: the endpoint and model name are all we know of the weights behind them.
        endpoint = {"base_url": self.base_url, "model": self.model_ref}
        return BackendIdentity("openai", self.model_ref, "endpoint:" + json_digest(endpoint)[:32], "remote", CHAT_API,
                               {"base_url": self.base_url})

    def render(self, template, task_prompt: str):
        return template.render_messages(task_prompt) if template.style == "chat" else task_prompt

    # -- HTTP ------------------------------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict) -> dict:
        url = f"{self.base_url}/{path}"
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        data = json.dumps(payload).encode("utf-8")
        problem = ""
        for attempt in range(self.retries + 1):
            wait_s = min(self.backoff * 2**attempt, 60.0)
            try:
                request = urllib.request.Request(url, data=data, headers=headers, method="POST")
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode("utf-8", "replace").replace("\n", " ")
                if exc.code != 429 and exc.code < 500:
                    hint = " (check OPENAI_API_KEY)" if exc.code in (401, 403) else ""
                    raise BadInput(f"{url}: HTTP {exc.code}{hint}: {detail}") from None
                problem = f"HTTP {exc.code} {detail}".strip()
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                if retry_after and retry_after.replace(".", "", 1).isdigit():
                    wait_s = min(float(retry_after), 60.0)
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                problem = f"cannot reach the endpoint ({getattr(exc, 'reason', exc)})"
            except json.JSONDecodeError:
                problem = "the endpoint answered with something that is not JSON"
            if attempt < self.retries:
                time.sleep(wait_s)
        raise InfraError(f"{url}: {problem} (after {self.retries + 1} attempts)")

    def _complete(self, request: GenerationRequest) -> tuple[str, int]:
        common = {"model": self.model_ref, "max_tokens": self.decoding.max_new_tokens, "temperature": 0.0}
        if self.decoding.sampling:  # one request per sample, with the sample's own (seed, task, i) seed
            common |= {"temperature": self.decoding.temperature, "top_p": self.decoding.top_p, "n": 1,
                       "seed": request.seed}
        if isinstance(request.prompt, list):
            body = self._post("chat/completions", {**common, "messages": request.prompt})
            extract = lambda choice: (choice.get("message") or {}).get("content")  # noqa: E731
        else:
            stop = list(request.stop[-_MAX_STOP:])  # the benchmark-specific stop strings come last
            body = self._post("completions", {**common, "prompt": request.prompt, **({"stop": stop} if stop else {})})
            extract = lambda choice: choice.get("text")  # noqa: E731
        try:
            text = extract(body["choices"][0])
        except (KeyError, IndexError, TypeError, AttributeError):
            text = None
        if not isinstance(text, str):
            raise InfraError(f"{self.base_url}: response has no generated text: {json.dumps(body)[:200]}")
        tokens = (body.get("usage") or {}).get("completion_tokens") or 0
        return text, int(tokens)

    def _probe_seed(self, request: GenerationRequest) -> dict:
        """Sampling: send the first request twice with its seed. A server that honours `seed` answers the same
        text; one that ignores it (many do, silently) usually does not. Recorded on every row of this call
        (`backend_notes.seed_honoured`): samples from such a server are not reproducible."""
        first, _ = self._complete(request)
        second, _ = self._complete(request)
        return {"seed_honoured": first == second, "seed_probe": request.task_id}

    def generate(self, requests: list[GenerationRequest], on_output: OnOutput, batch_size: int | None = None) -> None:
        """Requests run concurrently; each result is handed over (and cached) as soon as it arrives.

        On the first failure the requests not yet sent are cancelled, those in flight are still collected (and
        saved), then the failure is raised.
        """
        workers = max(1, batch_size or self.decoding.batch_size)
        notes = self._probe_seed(requests[0]) if self.decoding.sampling and requests else None
        pool = ThreadPoolExecutor(max_workers=workers)
        failure: BaseException | None = None
        try:
            futures = {pool.submit(self._complete, r): r for r in requests}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    if future.cancelled():
                        continue
                    if future.exception() is not None:
                        if failure is None:
                            failure = future.exception()
                            for other in pending:
                                other.cancel()
                        continue
                    text, tokens = future.result()
                    request = futures[future]
                    on_output(GenerationOutput(request.index, cut_at_stop(text, request.stop), tokens, workers,
                                               notes))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        if failure is not None:
            raise failure
