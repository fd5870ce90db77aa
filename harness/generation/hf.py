"""transformers backend: local directories, GGUF files, PEFT adapters, hub ids (when online), via harness.models.

Nothing is loaded at construction: `identity()` needs only the model's content hash and the memoised tokenizer
facts, so a run answered entirely from the cache never imports torch or loads weights. The tokenizer is loaded when
a prompt must be rendered, the model when something must be generated.
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core.errors import BadInput, FgitBenchError, InfraError
from harness.core.hashing import text_digest
from harness.core.provenance import package_version
from harness.generation.base import (
    BACKENDS,
    Backend,
    BackendIdentity,
    GenerationOutput,
    GenerationRequest,
    OnOutput,
    cut_at_stop,
    default_row_block,
)
from harness.generation.cache import GenerationCache
from harness.models import ModelSpec, is_seq2seq, load_model, load_tokenizer, resolve_model
from harness.tokenization import PROMPT_ENCODING, encode_text

_STOP_TAIL_TOKENS = 16  # stop strings are shorter than this many tokens: decode only the tail to look for them


def default_device() -> str:
    """cuda when this torch build has CUDA and a GPU is visible: decided without importing torch (fast cache hits)."""
    torch_version = package_version("torch", "absent")
    if torch_version == "absent" or "+cpu" in torch_version:
        return "cpu"
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return "cpu"
    return "cuda" if any(Path("/dev").glob("nvidia[0-9]*")) else "cpu"


def tokenizer_hash(tokenizer) -> str:
    """Content hash of the tokenizer: its full serialisation (fast tokenizers) or vocabulary, template, specials."""
    import json

    backend = getattr(tokenizer, "backend_tokenizer", None)
    body = backend.to_str() if backend is not None else json.dumps(sorted(tokenizer.get_vocab().items()))
    specials = json.dumps(tokenizer.special_tokens_map, sort_keys=True, default=str)
    return text_digest("\0".join([body, tokenizer.chat_template or "", specials]))


def _guarded(what: str, spec: ModelSpec, load, *args, **kwargs):
    """harness.models maps the usual loader errors to BadInput; a damaged GGUF can raise others (struct.error...)."""
    try:
        return load(spec, *args, **kwargs)
    except (FgitBenchError, MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 -- any other failure to parse a local model file is bad input
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise BadInput(f"cannot load {what} of {spec.name}: {type(exc).__name__}: {first}") from None


@BACKENDS.register("hf")
class HFBackend(Backend):
    name = "hf"
    default_batch_mode = "invariant"
    loads = 0  # model loads in this process (tests check that a full cache hit loads nothing)
    tokenizer_loads = 0

    def __init__(self, model, decoding, options=None):
        super().__init__(model, decoding, options)
        self.spec = resolve_model(model)
        self.cache: GenerationCache = self.options.get("cache") or GenerationCache()
        self.device = decoding.device or default_device()
        self.dtype = decoding.dtype or ("bfloat16" if self.device.startswith("cuda") else "float32")
        self._tokenizer = None
        self._model = None
        self._info: dict | None = None
        self._eos: set[int] = set()

    @property
    def row_block(self) -> int | None:
        """Invariant mode: rows per matmul call (see invariant.py); part of the identity, it moves outputs."""
        if self.decoding.batch_mode != "invariant":
            return None
        return self.decoding.row_block or default_row_block(self.device.split(":")[0])

    # -- identity (cheap) -------------------------------------------------------------------------------------------
    def _tokenizer_info(self) -> dict:
        if self._info is None:
            fields = {"model_hash": self.spec.content_hash(),
                      "transformers": package_version("transformers", "absent")}
            info = self.cache.memo_get("tokenizers", fields)
            if info is None:
                tok = self.tokenizer
                info = {"hash": tokenizer_hash(tok), "chat_template": tok.chat_template}
            if "seq2seq" not in info:  # memo entries written before encoder–decoder support lack it
                info["seq2seq"] = _guarded("config", self.spec, is_seq2seq)
                self.cache.memo_put("tokenizers", fields, info)
            self._info = info
        return self._info

    def identity(self) -> BackendIdentity:
        info = self._tokenizer_info()
        engine = {"transformers": package_version("transformers", "absent"),
                  "torch": package_version("torch", "absent"), "device": self.device, "dtype": self.dtype}
        if self.decoding.batch_mode == "invariant":
            engine["row_block"] = self.row_block
        engine["prompt_encoding"] = PROMPT_ENCODING
        return BackendIdentity("hf", self.spec.name, self.spec.content_hash(), info["hash"], info["chat_template"], engine,
                               seq2seq=info["seq2seq"])

    # -- lazy loading -----------------------------------------------------------------------------------------------
    @property
    def tokenizer(self):
        if self._tokenizer is None:
            tok = _guarded("tokenizer", self.spec, load_tokenizer)
            HFBackend.tokenizer_loads += 1
            tok.padding_side = "left"
            if tok.pad_token_id is None:
                tok.pad_token = tok.eos_token
            self._tokenizer = tok
        return self._tokenizer

    @property
    def model(self):
        if self._model is None:
            import torch

            if self.device.startswith("cuda") and not torch.cuda.is_available():
                raise InfraError("a CUDA device was expected but torch cannot use it; pass --device cpu")
            self._model = _guarded("model", self.spec, load_model, dtype=getattr(torch, self.dtype), device=self.device)
            HFBackend.loads += 1
        return self._model

    def adopt(self, model, tokenizer) -> None:
        """Use an already loaded model and tokenizer (bench and tests load the embedded model once)."""
        self._model, self._tokenizer = model, tokenizer
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token

    def render(self, template, task_prompt: str) -> str:
        return template.render_text(task_prompt, self.tokenizer)

    def eos_ids(self) -> set[int]:
        ids = set()
        configured = getattr(self.model.generation_config, "eos_token_id", None)
        for value in configured if isinstance(configured, (list, tuple)) else [configured]:
            if value is not None:
                ids.add(int(value))
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        return ids

    # -- generation -------------------------------------------------------------------------------------------------
    def generate(self, requests: list[GenerationRequest], on_output: OnOutput, batch_size: int | None = None) -> None:
        if not requests:
            return
        batch_size = batch_size or self.decoding.batch_size
        tok, model = self.tokenizer, self.model
        self._eos = self.eos_ids()
        encoded = [encode_text(tok, r.prompt, r.templated)["input_ids"] for r in requests]
        if model.config.is_encoder_decoder:
            # batch-invariant by construction in invariant mode: every source decoded alone (the ragged decoder
            # needs transformers' attention interface, which T5-style attention does not use)
            sources = 1 if self.decoding.batch_mode == "invariant" else batch_size
            self._generate_batched(model, requests, encoded, on_output, sources, seq2seq=True)
        elif self.decoding.batch_mode == "invariant":
            self._generate_invariant(requests, encoded, on_output, batch_size)
        else:
            self._generate_batched(model, requests, encoded, on_output, batch_size, seq2seq=False)

    def _finish(self, request: GenerationRequest, tokens: list[int], batch_size: int, on_output: OnOutput) -> None:
        """`tokens` may end with the end-of-sequence token; it is not counted (plain and invariant count alike)."""
        if tokens and tokens[-1] in self._eos:
            tokens = tokens[:-1]
        text = self.tokenizer.decode(tokens, skip_special_tokens=True)
        on_output(GenerationOutput(request.index, cut_at_stop(text, request.stop), len(tokens), batch_size))

    def _generate_batched(self, model, requests, encoded, on_output, batch_size, *, seq2seq: bool) -> None:
        """Ordinary batched greedy decoding, longest prompts first to keep padding small. Decoder-only: prompts
        left-padded, the output continues them. Encoder–decoder: sources right-padded (T5's convention); the
        decoder's output starts with its start token, which is not part of the text."""
        import torch

        order = sorted(range(len(requests)), key=lambda i: -len(encoded[i]))
        pad = self.tokenizer.pad_token_id
        eos = self._eos
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            width = max(len(encoded[i]) for i in chunk)
            ids = torch.full((len(chunk), width), pad, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                span = slice(0, len(encoded[i])) if seq2seq else slice(width - len(encoded[i]), width)
                ids[row, span] = torch.tensor(encoded[i])
                mask[row, span] = 1
            stop = sorted({s for i in chunk for s in requests[i].stop})
            sampling = self.decoding.sampling
            if sampling:  # transformers samples from the global generator: seeded by the chunk's first row, so a
                # chunk of one (invariant seq2seq) is its own row's stream; a plain batch is reproducible as batched
                torch.manual_seed(requests[chunk[0]].seed)
            with torch.inference_mode():
                out = model.generate(
                    input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                    max_new_tokens=self.decoding.max_new_tokens, do_sample=sampling,
                    temperature=self.decoding.temperature if sampling else None,
                    top_p=self.decoding.top_p if sampling else None, top_k=0 if sampling else None,
                    pad_token_id=pad, eos_token_id=sorted(eos), stop_strings=stop or None,
                    tokenizer=self.tokenizer,
                )
            first = 1 if seq2seq else width  # the first generated position
            for row, i in enumerate(chunk):
                generated = out[row, first:].tolist()
                end = next((pos for pos, token in enumerate(generated) if token in eos or token == pad), len(generated))
                self._finish(requests[i], generated[:end], len(chunk), on_output)  # rows that finished early are padded

    def _generate_invariant(self, requests, encoded, on_output, batch_size) -> None:
        from harness.generation.invariant import InvariantDecoder

        tok = self.tokenizer
        stops = {s for r in requests for s in r.stop}

        def stopped(tokens: list[int]) -> bool:
            if not stops:
                return False
            tail = tok.decode(tokens[-_STOP_TAIL_TOKENS:], skip_special_tokens=True)
            return any(s in tail for s in stops)

        decoder = InvariantDecoder(self.model, self._eos, self.row_block, self.decoding.temperature,
                                   self.decoding.top_p)
        decoder.generate(
            encoded, self.decoding.max_new_tokens, batch_size, stopped,
            lambda i, tokens: self._finish(requests[i], tokens, batch_size, on_output),
            seeds=[r.seed for r in requests] if self.decoding.sampling else None,
        )

    def close(self) -> None:
        self._model = None
