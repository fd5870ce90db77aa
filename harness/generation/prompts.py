"""Prompting and extraction as the upstream generators do it.

Base models (no chat template) get direct completion: the model continues the task prompt and stops at evalplus's
stop strings. Chat models get their chat template with the user turn holding the instruction and the fenced task
prompt, and the assistant turn pre-filled with the response prefix and an open ```python fence (evalplus's
`make_raw_chat_prompt`; bigcodebench's is the same except that `instruct` prompts are not fenced). Message APIs that
cannot pre-fill (OpenAI chat) get evalplus's system + user messages. Everything here is hashed into `template_hash`.

Extraction: evalplus's tree-sitter sanitizer keeps the imports and the definitions the entry point needs.
bigcodebench's own sanitizer is not installed here; for bigcodebench we use evalplus's too, falling back to the
longest syntactically valid block (bigcodebench's first step) when evalplus's would drop the entry point (it keeps
only functions that `return`, and BigCodeBench's `task_func` may not).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from harness.errors import BadInput
from harness.hashing import json_digest

# evalplus 0.3.1 codegen / bigcodebench generate defaults.
INSTRUCTION_PREFIX = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)
RESPONSE_PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem and passes corresponding tests:"
)
OPENAI_SYSTEM_MESSAGE = "You are a helpful assistant good at coding."  # evalplus.gen.util.openai_request
EOS = ("<|endoftext|>", "<|endofmask|>", "</s>", "\nif __name__", "\ndef main(", "\nprint(")  # evalplus/bigcodebench
_DIRECT_EOS = {  # extra_eos_for_direct_completion in evalplus and bigcodebench
    "humaneval": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
    "mbpp": ('\n"""', "\nassert"),
    "bigcodebench": ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert "),
    # QuixBugs: the answer is a whole fixed program (imports, several definitions), so no "\ndef " stop; it ends
    # where a model starts another buggy/fixed pair or tests. (Issue 12 moves this onto the Benchmark.)
    "quixbugs": ("\n# Buggy program", "\n# Fixed program", "\nassert "),
}
_CHAT_EOS = ("\n```\n",)  # the pre-filled fence closes
_MAGIC_SPLITTER = "-[[]]-this-is-really-our-highest-priority-[[]]-"  # evalplus's marker for "prompt ends here"
STYLES = ("auto", "direct", "chat", "seq2seq")
# seq2seq: encoder–decoder models (the CodeT5 family): no chat template, the task text is the encoder's source and
# the decoder writes the target (a continuation of the prompt, or the whole program where the benchmark's answer is
# one), with direct completion's stop strings.
_NEW_FIELDS = {"answer_is_program": False}  # hashed only when set, so older templates keep their hashes


@dataclass(frozen=True)
class PromptTemplate:
    style: str  # "direct" or "chat"
    dataset: str  # humaneval | mbpp | bigcodebench: selects stop strings
    fence: bool  # chat: put the task prompt in a ``` fence
    chat_template: str | None  # the tokenizer's Jinja template (None for base models and message APIs)
    instruction_prefix: str = INSTRUCTION_PREFIX
    response_prefix: str = RESPONSE_PREFIX
    prefill: bool = True  # chat: pre-fill the assistant turn (impossible over a messages API)
    answer_is_program: bool = False  # the answer is the whole program (repair), not a continuation of the prompt

    @property
    def stop(self) -> tuple[str, ...]:
        if self.style in ("direct", "seq2seq"):
            return EOS + _DIRECT_EOS[self.dataset]
        return EOS + _CHAT_EOS if self.prefill else ()

    def template_hash(self) -> str:
        fields = {k: v for k, v in asdict(self).items() if k not in _NEW_FIELDS or v != _NEW_FIELDS[k]}
        return json_digest({**fields, "stop": list(self.stop), "v": 1})

    def user_message(self, task_prompt: str) -> str:
        if self.fence:
            return f"{self.instruction_prefix}\n```\n{task_prompt.strip()}\n```\n"
        return f"{self.instruction_prefix}\n{task_prompt.strip()}\n"

    def render_text(self, task_prompt: str, tokenizer) -> str:
        """The model input text: the prompt itself, or the chat template cut where the pre-filled fence opens."""
        if self.style in ("direct", "seq2seq"):
            return task_prompt
        response = f"{self.response_prefix}\n```python\n{_MAGIC_SPLITTER}\n```\n"
        messages = [{"role": "user", "content": self.user_message(task_prompt)}, {"role": "assistant", "content": response}]
        return tokenizer.apply_chat_template(messages, tokenize=False).split(_MAGIC_SPLITTER)[0]

    def render_messages(self, task_prompt: str) -> list[dict]:
        """evalplus's OpenAI chat request: its system message, and the prompt fenced as python."""
        fenced = f"{self.instruction_prefix}\n```python\n{task_prompt.strip()}\n```" if self.fence else self.user_message(task_prompt)
        return [{"role": "system", "content": OPENAI_SYSTEM_MESSAGE}, {"role": "user", "content": fenced}]


def choose_style(requested: str, has_chat_template: bool, meta: dict, seq2seq: bool = False) -> str:
    """auto: chat when the model has a chat template (evalplus's rule), else direct completion, or source→target
    for an encoder–decoder model. BigCodeBench instruct needs chat."""
    if requested not in STYLES:
        raise BadInput(f"unknown prompt style {requested!r} (known: {', '.join(STYLES)})")
    plain = "seq2seq" if seq2seq else "direct"
    style = ("chat" if has_chat_template else plain) if requested == "auto" else requested
    if style == "direct" and seq2seq:
        raise BadInput("--prompt-style direct continues a causal model's text; this encoder–decoder model takes "
                       "seq2seq (source→target, what auto picks)")
    if style == "seq2seq" and not seq2seq:
        raise BadInput("--prompt-style seq2seq needs an encoder–decoder model; this model is causal (use direct)")
    if style == "seq2seq" and not meta.get("fence", True):
        raise BadInput("BigCodeBench instruct prompts need a chat model (upstream refuses direct completion too)")
    if style == "chat" and not has_chat_template:
        raise BadInput("--prompt-style chat needs a model with a chat template; this model has none")
    if style == "direct" and not meta.get("fence", True):
        raise BadInput("BigCodeBench instruct prompts need a chat model (upstream refuses direct completion too)")
    return style


def make_template(style: str, meta: dict, chat_template: str | None, prefill: bool = True) -> PromptTemplate:
    return PromptTemplate(
        style=style,
        dataset=meta["dataset"],
        fence=meta.get("fence", True),
        chat_template=chat_template if style == "chat" else None,
        instruction_prefix=meta.get("instruction_prefix") or INSTRUCTION_PREFIX,
        response_prefix=meta.get("response_prefix") or RESPONSE_PREFIX,
        prefill=prefill,
        answer_is_program=bool(meta.get("answer_is_program", False)),
    )


def extract(template: PromptTemplate, task_prompt: str, raw: str, entry_point: str) -> tuple[str, str | None]:
    """(solution, completion): the sanitized full program, and the raw continuation for direct completion."""
    from evalplus.sanitize import code_extract, sanitize

    continues = template.style in ("direct", "seq2seq") and not template.answer_is_program
    code = task_prompt + raw if continues else raw
    solution = sanitize(code, entrypoint=entry_point)
    if template.dataset == "bigcodebench" and f"def {entry_point}" not in solution:
        solution = code_extract(code)
    return solution, (raw if continues else None)
