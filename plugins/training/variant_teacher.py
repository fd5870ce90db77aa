"""`teacher` variant source: a model is shown the problem and the correct solution and asked for a solution that
stays as close as possible to it but is functionally wrong, as one fenced code block (FGit paper: Qwen2.5-Coder-
32B-Instruct, temperature 0.8, 3 variants per sample).

Two ways to run the teacher:
- `teacher_backend = "hf"` with `temperature > 0` (the default): sampling here, because the generation backends
  decode greedily. The model is loaded through harness.models; each generate call draws `n_candidates` samples
  per example (`num_return_sequences`) after `torch.manual_seed(seed)`, the seed derived from `config.seed` and
  the cache keys of the call's examples. With `batch_size = 1` (default) every example has its own seed, so
  its variants do not depend on which other examples run; with larger batches they depend on the batch.
  The assistant turn is pre-filled with an open ```python fence and generation stops at the closing fence.
- any other backend, or temperature 0: through the generation backend registry (greedy). To get distinct
  variants from a greedy model, the k-th request asks for "variant k of n" with a different mistake.
"""

from __future__ import annotations

from harness.core.hashing import json_digest
from harness.core.provenance import package_version
from harness.generation.base import BACKENDS, DecodingConfig, GenerationRequest
from harness.models import EMBEDDED_MODEL, resolve_model
from harness.tokenization import encode_text
from plugins.api import TrainingExample
from plugins.training.variants import VARIANT_SOURCES, OnCandidates, VariantSource

TEACHER_PROMPT = """Below is a programming problem and a correct Python solution to it.

### Problem
{instruction}

### Correct solution
```python
{code}
```

Write an incorrect version of this solution: keep it as close as possible to the correct solution (same \
structure, names and formatting) but introduce a subtle bug so that it is functionally wrong. Do not point \
out the bug in comments. Answer with the complete incorrect code in one fenced Python code block and nothing \
else."""
VARIANT_HINT = "\n\nThis is variant {k} of {n}: make a different mistake than in the other variants."
PREFILL = "```python\n"
PROMPT_VERSION = 1


def teacher_prompt(example: TrainingExample, k: int | None = None, n: int = 1) -> str:
    text = TEACHER_PROMPT.format(instruction=example.instruction.strip(), code=example.code.strip("\n"))
    return text + (VARIANT_HINT.format(k=k, n=n) if k is not None and n > 1 else "")


def code_until_fence(text: str) -> str:
    """The code of a reply whose ```python fence was pre-filled: everything before the closing fence (wherever it
    is: generation stops at the first ```, which may close a line of code)."""
    end = text.find("```")
    return (text[:end] if end != -1 else text).strip("\n").rstrip()


def extract_variant(reply: str, prefilled: bool) -> str:
    """The variant's code: up to the closing fence when the opening one was pre-filled, else the first Python
    fenced block of the reply (the whole reply when it has none)."""
    if prefilled:
        return code_until_fence(reply)
    from plugins.training.training_data import python_code_spans

    spans = python_code_spans(reply, accept_untagged=True)
    return reply[spans[0][0] : spans[0][1]].rstrip() if spans else reply.strip()


@VARIANT_SOURCES.register("teacher")
class TeacherSource(VariantSource):
    name = "teacher"

    def __init__(self, config, model_ref=None):
        super().__init__(config, model_ref)
        self.teacher_ref = config.teacher_model or model_ref or EMBEDDED_MODEL
        self.sampling = config.teacher_backend == "hf" and config.temperature > 0
        self._model = self._tokenizer = self._backend = None
        if self.sampling:
            from harness.generation.hf import default_device

            self.spec = resolve_model(self.teacher_ref)
            self.device = default_device()
            self.dtype = "bfloat16" if self.device.startswith("cuda") else "float32"
        else:
            decoding = DecodingConfig(max_new_tokens=config.max_new_tokens, batch_size=config.batch_size)
            self._backend = BACKENDS.get(config.teacher_backend)(self.teacher_ref, decoding, {})

    # -- identity (cheap) -------------------------------------------------------------------------------------------
    def identity(self) -> dict:
        prompt = {"template": TEACHER_PROMPT, "hint": VARIANT_HINT, "prefill": PREFILL, "v": PROMPT_VERSION}
        if not self.sampling:
            from dataclasses import asdict

            return {"source": self.name, "mode": "backend-greedy", "backend": asdict(self._backend.identity()),
                    "prompt": json_digest(prompt)}
        return {"source": self.name, "mode": "hf-sampling", "model": self.spec.name,
                "model_hash": self.spec.content_hash(), "prompt": json_digest(prompt),
                "engine": {"transformers": package_version("transformers", "absent"),
                           "torch": package_version("torch", "absent"),
                           "device": self.device, "dtype": self.dtype}}

    def key_fields(self) -> dict:
        c = self.config
        fields = {"n_candidates": c.n_candidates, "max_new_tokens": c.max_new_tokens}
        if self.sampling:
            fields.update(temperature=c.temperature, top_p=c.top_p, top_k=0, seed=c.seed,
                          length_factor=c.length_factor, batch_size=c.batch_size, **self.pinned_decoding())
        return fields

    def pinned_decoding(self) -> dict:
        """Sampling settings passed to every generate call explicitly, so the checkpoint's generation_config
        (repetition penalty, n-gram bans, typical/min-p filters) cannot change the variants; recorded in the key."""
        return {"repetition_penalty": self.config.repetition_penalty, "no_repeat_ngram_size": 0,
                "typical_p": 1.0, "min_p": None}

    # -- lazy loading (sampling mode) -------------------------------------------------------------------------------
    def adopt(self, model, tokenizer) -> None:
        """Use an already loaded teacher model and tokenizer (a caller that holds it loaded already)."""
        self._model, self._tokenizer = model, tokenizer

    def _load(self) -> None:
        if self._model is None:
            import torch

            from harness.models import load_model, load_tokenizer

            self._tokenizer = load_tokenizer(self.spec)
            self._model = load_model(self.spec, dtype=getattr(torch, self.dtype), device=self.device)
        if self._tokenizer.pad_token_id is None:
            self._tokenizer.pad_token = self._tokenizer.eos_token

    def render(self, example: TrainingExample) -> tuple[str, bool]:
        """(model input text, whether it came from a chat template): user turn + the pre-filled open fence."""
        user = teacher_prompt(example)
        if self._tokenizer.chat_template:
            messages = [{"role": "user", "content": user}]
            text = self._tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            return text + PREFILL, True
        return f"{user}\n\n{PREFILL}", False

    # -- generation -------------------------------------------------------------------------------------------------
    def generate(self, jobs: list[tuple[int, TrainingExample]], on_candidates: OnCandidates) -> None:
        if self.sampling:
            self._sample(jobs, on_candidates)
        else:
            self._greedy(jobs, on_candidates)

    def _sample(self, jobs, on_candidates) -> None:
        import torch

        self._load()
        tok, model, c = self._tokenizer, self._model, self.config
        if getattr(model.config, "is_encoder_decoder", False):
            from harness.core.errors import BadInput

            raise BadInput(f"the teacher variant source samples from a causal model; {self.spec.name} is "
                           "encoder–decoder (set variant_source = \"mutation\", or a causal teacher_model)")
        configured = getattr(model.generation_config, "eos_token_id", None)
        configured = configured if isinstance(configured, (list, tuple)) else [configured]
        eos = sorted({int(i) for i in [tok.eos_token_id, *configured] if i is not None})
        for start in range(0, len(jobs), c.batch_size):
            chunk = jobs[start : start + c.batch_size]
            encoded = []
            for _, example in chunk:
                text, templated = self.render(example)
                encoded.append(encode_text(tok, text, templated)["input_ids"])
            code_tokens = max(len(tok(e.code, add_special_tokens=False)["input_ids"]) for _, e in chunk)
            limit = min(c.max_new_tokens, int(c.length_factor * code_tokens) + 64)
            width = max(len(ids) for ids in encoded)
            ids = torch.full((len(chunk), width), tok.pad_token_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, row_ids in enumerate(encoded):  # left padding
                ids[row, width - len(row_ids) :] = torch.tensor(row_ids)
                mask[row, width - len(row_ids) :] = 1
            seed = int(json_digest([c.seed, [e.code for _, e in chunk], [e.instruction for _, e in chunk]])[:8], 16)
            torch.manual_seed(seed)
            with torch.inference_mode():
                out = model.generate(
                    input_ids=ids.to(model.device), attention_mask=mask.to(model.device), do_sample=True,
                    temperature=c.temperature, top_p=c.top_p, top_k=0, num_return_sequences=c.n_candidates,
                    **self.pinned_decoding(),
                    max_new_tokens=limit, pad_token_id=tok.pad_token_id, eos_token_id=eos,
                    stop_strings=["```"], tokenizer=tok,
                    use_cache=True,  # an adopted training model has config.use_cache off; sampling needs the cache
                )
            for row, (index, _) in enumerate(chunk):  # num_return_sequences repeats each input consecutively
                replies, lengths = [], []
                for sample in range(c.n_candidates):
                    generated = out[row * c.n_candidates + sample, width:].tolist()
                    end = next((p for p, t in enumerate(generated) if t in eos or t == tok.pad_token_id),
                               len(generated))
                    replies.append(tok.decode(generated[:end], skip_special_tokens=True))
                    lengths.append(end)
                self.generated += 1
                on_candidates(index, [extract_variant(r, prefilled=True) for r in replies],
                              {"new_tokens": sum(lengths), "hit_token_limit": sum(n >= limit for n in lengths)})

    def _greedy(self, jobs, on_candidates) -> None:
        backend, n = self._backend, self.config.n_candidates
        chat_text = hasattr(type(backend), "tokenizer")  # local models render text; message APIs take messages
        requests = []
        for slot, (_, example) in enumerate(jobs):
            for k in range(n):
                user = teacher_prompt(example, k + 1, n)
                if chat_text and backend.tokenizer.chat_template:
                    prompt = backend.tokenizer.apply_chat_template(
                        [{"role": "user", "content": user}], tokenize=False, add_generation_prompt=True) + PREFILL
                elif chat_text:
                    prompt = f"{user}\n\n{PREFILL}"
                else:
                    prompt = [{"role": "user", "content": user}]
                requests.append(GenerationRequest(index=slot * n + k, prompt=prompt, stop=("```",) if chat_text else ()))
        replies: dict[int, dict[int, str]] = {}

        def on_output(output) -> None:
            slot, k = divmod(output.index, n)
            replies.setdefault(slot, {})[k] = output.text
            if len(replies[slot]) == n:
                self.generated += 1
                texts = [replies[slot][j] for j in range(n)]
                on_candidates(jobs[slot][0], [extract_variant(t, prefilled=chat_text) for t in texts], {})

        backend.generate(requests, on_output)

    def close(self) -> None:
        self._model = None
        if self._backend is not None:
            self._backend.close()
