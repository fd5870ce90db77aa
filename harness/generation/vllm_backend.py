"""vLLM backend (optional extra `fgit-bench[vllm]`, for CUDA GPUs): same prompts, stop strings and cache as `hf`.

Invariant mode sets VLLM_BATCH_INVARIANT=1 before vLLM is imported: vLLM's own batch-invariant kernels (beta,
compute capability >= 8.0) make outputs independent of batch size and request order. PEFT adapters are served as
LoRA requests on their base model. Not exercised on CPU machines (vLLM needs a GPU); the hf backend is the reference.
"""

from __future__ import annotations

import importlib.util
import os

from harness.core.errors import BadInput
from harness.core.provenance import package_version
from harness.generation.base import BACKENDS, Backend, BackendIdentity, GenerationOutput, cut_at_stop
from harness.generation.hf import HFBackend
from harness.tokenization import PROMPT_ENCODING, encode_text


@BACKENDS.register("vllm")
class VLLMBackend(Backend):
    name = "vllm"
    default_batch_mode = "invariant"
    loads = 0

    def __init__(self, model, decoding, options=None):
        super().__init__(model, decoding, options)
        if importlib.util.find_spec("vllm") is None:
            raise BadInput("backend vllm is an optional extra: pip install 'fgit-bench[vllm]' (it needs a CUDA GPU)")
        # Tokenizer facts, prompt rendering and hashing are the hf backend's (same tokenizer, same templates).
        self._hf = HFBackend(model, decoding, options)
        self.spec = self._hf.spec
        self.dtype = decoding.dtype or "bfloat16"
        self._llm = None

    def identity(self) -> BackendIdentity:
        base = self._hf.identity()
        engine = {"vllm": package_version("vllm", "absent"), "torch": package_version("torch", "absent"),
                  "dtype": self.dtype, "prompt_encoding": PROMPT_ENCODING,
                  "batch_invariant": self.decoding.batch_mode == "invariant"}
        return BackendIdentity("vllm", base.model, base.model_hash, base.tokenizer, base.chat_template, engine)

    def render(self, template, task_prompt: str) -> str:
        return self._hf.render(template, task_prompt)

    @property
    def llm(self):
        if self._llm is None:
            if self.decoding.batch_mode == "invariant":
                os.environ["VLLM_BATCH_INVARIANT"] = "1"  # read by vLLM at import/engine start
            from vllm import LLM

            path = os.path.join(self.spec.path, self.spec.gguf_file) if self.spec.gguf_file else self.spec.path
            kwargs = {"model": path, "dtype": self.dtype, "enable_lora": bool(self.spec.adapter)}
            self._llm = LLM(**kwargs)
            VLLMBackend.loads += 1
        return self._llm

    def generate(self, requests, on_output, batch_size=None) -> None:
        from vllm import SamplingParams

        lora = None
        if self.spec.adapter:
            from vllm.lora.request import LoRARequest

            lora = LoRARequest("adapter", 1, self.spec.adapter)
        batch_size = batch_size or self.decoding.batch_size
        for start in range(0, len(requests), batch_size):  # chunks, so finished work is saved as it goes
            chunk = requests[start : start + batch_size]
            # sampling: one request per sample, seeded with its own (seed, task, i) seed (vLLM gives a seeded
            # request its own generator), so a sample depends on nothing else in the batch and is cached alone
            params = [SamplingParams(temperature=0.0, max_tokens=self.decoding.max_new_tokens, stop=list(r.stop))
                      if not self.decoding.sampling else
                      SamplingParams(n=1, temperature=self.decoding.temperature, top_p=self.decoding.top_p,
                                     top_k=-1, seed=r.seed, max_tokens=self.decoding.max_new_tokens, stop=list(r.stop))
                      for r in chunk]
            # token ids, not text: vLLM would tokenize with its own special-token rule (harness.tokenization)
            prompts = [{"prompt_token_ids": encode_text(self._hf.tokenizer, r.prompt, r.templated)["input_ids"]}
                       for r in chunk]
            results = self.llm.generate(prompts, params, lora_request=lora, use_tqdm=False)
            for request, result in zip(chunk, results, strict=True):
                out = result.outputs[0]
                on_output(GenerationOutput(request.index, cut_at_stop(out.text, request.stop), len(out.token_ids),
                                           len(chunk)))
