"""What FGit and the mutation baseline share as training plugins: pair every example with an incorrect variant,
mark where the pair differs, train with the fault-weighted loss (see ../shared/docs/fgit-method.md).

    examples → `pair_examples` (plugins.training.variants.attach_variants: teacher or mutation variants, cached)
             → `encode_fault_weighted` (c with labels and masks, ĉ with its masks; tokenized as SFT tokenizes)
             → `plugins.training.trainer.run_training` with `plugins.training.fgit_loss.trainer_loss_fn`

`plugins.methods.fgit` and `plugins.methods.mutation` differ only in the default variant source. DPO uses `pair_examples` too,
so identical `[*.variants]` tables generate the teacher variants once for a whole comparison run.

Examples that get no variant (every candidate unparsable, identical, duplicated or passing the tests; no code):
the method doc does not say. By default (`unpaired = "sft"`) they are still trained, with weight 1 on every
token, i.e. Standard-SFT on them: FGit then sees exactly the data Standard-SFT sees, so a comparison measures
the weighting and not a smaller training set. `unpaired = "drop"` trains on the pairs alone. Either way the
counts are in the artifact manifest (`pairs`) and printed.

Examples that arrive with a variant (a pair file such as QuixBugs) keep it when `keep_given_variants` (FGit and
DPO); the mutation baseline replaces it with a mutant by default, since its variants are defined by the mutator.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness.core.config import to_dict
from harness.core.errors import BadInput
from harness.core.hashing import json_digest
from harness.models import ModelSpec, resolve_model
from plugins.api import TrainingExample
from plugins.training.fgit_loss import PAIRED, FGitLossConfig, trainer_loss_fn
from plugins.training.fgit_masks import (
    INCORRECT_ATTENTION,
    INCORRECT_IDS,
    INCORRECT_LINE_MASK,
    INCORRECT_TOKEN_MASK,
    LINE_MASK,
    TOKEN_MASK,
    char_marks,
    token_masks,
)
from plugins.training.pairing_report import VariantPairingPlugin
from plugins.training.trainer import TrainingConfig, encode_example, run_training
from plugins.training.training_data import response_text
from plugins.training.variant_teacher import TeacherSource
from plugins.training.variants import VARIANT_SOURCES, VariantConfig, attach_variants, load_sources

UNPAIRED_MODES = ("sft", "drop")
_FENCE_OPEN = "```python\n"  # plugins.training.training_data.fenced puts the code right after it


@dataclass
class VariantPairing:
    """Where incorrect variants come from: a variant source and its settings (`[<variant>.variants]`; its
    `keep_unpaired` is not used: the plugin decides what happens to examples without a variant)."""

    variant_source: str = field(default="teacher", metadata={
        "help": "a registered variant source: teacher | mutation"})
    keep_given_variants: bool = field(default=True, metadata={
        "help": "examples that already have `incorrect` (a pair file) keep it"})
    sandbox: str = field(default="auto", metadata={
        "help": "where variants of examples with tests are run (plugins.training.variants step 3)"})
    variants: VariantConfig = field(default_factory=VariantConfig)

    def __post_init__(self):
        load_sources()
        VARIANT_SOURCES.get(self.variant_source)  # BadInput with "did you mean" on a typo


@dataclass
class FaultWeightedConfig(TrainingConfig, VariantPairing):
    """`TrainingConfig` (the settings SFT and DPO share) + the variant source + the loss: `[fgit]` with the
    nested tables `[fgit.loss]` (plugins.training.fgit_loss.FGitLossConfig) and `[fgit.variants]` (VariantConfig)."""

    unpaired: str = field(default="sft", metadata={
        "help": 'examples without a variant: "sft" (trained with weight 1) or "drop"'})
    loss: FGitLossConfig = field(default_factory=FGitLossConfig)

    def __post_init__(self):
        TrainingConfig.__post_init__(self)
        VariantPairing.__post_init__(self)
        if self.unpaired not in UNPAIRED_MODES:
            raise ValueError(f"unpaired must be one of {', '.join(UNPAIRED_MODES)}, got {self.unpaired!r}")


def model_reference(spec: ModelSpec) -> str:
    """A string `resolve_model` turns back into `spec` (the teacher defaults to the model being trained, and the
    variant sources take model references)."""
    candidates = [spec.name]
    if spec.gguf_file:
        candidates.append(str(Path(spec.path) / spec.gguf_file))
    candidates.append(spec.adapter or spec.path)
    for ref in candidates:
        try:
            resolved = resolve_model(ref)
        except BadInput:
            continue
        if dataclasses.replace(resolved, name=spec.name) == spec:
            return ref
    raise BadInput(f"cannot refer to model {spec.name} by name for the variant teacher: set "
                   "variants.teacher_model in the config")


def _variant_source(name: str, variants: VariantConfig, spec: ModelSpec, model_ref: str | None,
                    loaded: tuple | None):
    """The variant source. A teacher takes `loaded` (the model about to be trained,
    from `load_for_training(spec, config, wrap_lora=False)`) when it would load that same model the same way: fp32
    on the CPU, no adapter to merge. That saves loading it twice; it draws the samples it would draw itself."""
    source = VARIANT_SOURCES.get(name)(variants, model_ref)
    if loaded is None or spec.adapter or not isinstance(source, TeacherSource):
        return source
    if (source.sampling and source.device == "cpu" and source.dtype == "float32"
            and dataclasses.replace(source.spec, name=spec.name) == spec):
        tokenizer, model = loaded
        source.adopt(model, tokenizer)
    return source


def pair_examples(examples: list[TrainingExample], config: VariantPairing, spec: ModelSpec, plugin: str,
                  loaded: tuple | None = None) -> tuple[list[TrainingExample], dict]:
    """Every example, in order, with `incorrect` filled where the variant source gave one (None where not), and
    the report for the artifact manifest: the variant pipeline's report and the pair counts. `loaded`: the
    (tokenizer, model) about to be trained, which a teacher that is the same model uses instead of loading it."""
    todo = [i for i, e in enumerate(examples) if not (config.keep_given_variants and e.incorrect)]
    out = list(examples)
    report: dict = {"given": len(examples) - len(todo), "generated_for": len(todo)}
    if todo:
        try:
            model_ref = model_reference(spec)
        except BadInput:
            if config.variant_source == "teacher" and not config.variants.teacher_model:
                raise  # the teacher would be this model
            model_ref = None
        # keep_unpaired: the plugin decides what happens to them, and needs them in order to put them back
        variants = dataclasses.replace(config.variants, keep_unpaired=True)
        source = _variant_source(config.variant_source, variants, spec, model_ref, loaded)
        paired, variant_report = attach_variants([examples[i] for i in todo], source, variants,
                                                 sandbox_name=config.sandbox)
        for i, example in zip(todo, paired, strict=True):
            out[i] = example
        report["variants"] = variant_report
    paired_count = sum(1 for e in out if e.incorrect)
    report.update(examples=len(examples), paired=paired_count, unpaired=len(examples) - paired_count)
    counts = report.get("variants", {}).get("counts", {})
    print(f"{plugin}: {paired_count}/{len(examples)} examples paired with an incorrect variant "
          f"({report['given']} given; from {config.variant_source}: {counts.get('generated', 0)} candidates "
          f"generated, {counts.get('kept', 0)} kept, {counts.get('no_variant', 0)} examples without one)",
          file=sys.stderr)
    return out, report


# ---- encoding -----------------------------------------------------------------------------------------------------


def _placed_code(example: TrainingExample, target: str, code: str) -> tuple[str, str, int]:
    """(response text, the code as it appears there, its start in the response) with `code` in place."""
    text = response_text(example, target, code=code)
    if target == "code":
        return text, code.strip("\n"), len(_FENCE_OPEN)
    span = example.meta.get("code_span")
    start = span[0] if span and text[span[0]: span[0] + len(code)] == code else text.find(code)
    return text, code, start


def _encode_side(tokenizer, example: TrainingExample, config: TrainingConfig, code: str):
    """encode_example of the response with `code` in it, and the char span of that code in the full text."""
    text, placed, start = _placed_code(example, config.target, code)
    encoded = encode_example(tokenizer, example.instruction, text, config.max_length)
    if encoded is None or start < 0:
        return encoded, placed, -1
    if encoded["offsets"] is None:
        raise BadInput("fgit needs a fast tokenizer (character offsets) to map the masks to tokens")
    full = encoded["text"]
    # The response normally sits right after the prompt; a template that trims it moves the code: search for it.
    at = encoded["response_start"] + start
    if full[at: at + len(placed)] != placed:
        at = full.find(placed, encoded["response_start"])
    return encoded, placed, at


def encode_fault_weighted(tokenizer, example: TrainingExample, config: TrainingConfig) -> dict | None:
    """The FGit batch row (plugins.training.fgit_loss layout): `c` tokenized exactly as SFT tokenizes it (labels -100 on
    the prompt) with its line/token masks; `ĉ` (the same response with the incorrect code) with its masks.
    An example without a variant gets ĉ = c and empty masks: the loss gives it weight 1 (Standard-SFT)."""
    encoded, placed_c, at_c = _encode_side(tokenizer, example, config, example.code or "")
    if encoded is None:
        return None
    ids = encoded["input_ids"]
    row = {"input_ids": ids, "attention_mask": encoded["attention_mask"], "labels": encoded["labels"], PAIRED: 0}
    zeros = [0] * len(ids)
    row.update({LINE_MASK: zeros, TOKEN_MASK: zeros, INCORRECT_IDS: ids, INCORRECT_ATTENTION: encoded["attention_mask"],
                INCORRECT_LINE_MASK: zeros, INCORRECT_TOKEN_MASK: zeros})
    if not example.incorrect or at_c < 0:
        return row
    wrong, placed_i, at_i = _encode_side(tokenizer, example, config, example.incorrect)
    if wrong is None or at_i < 0:
        return row
    marks_c, marks_i = char_marks(placed_c, placed_i)
    row[LINE_MASK], row[TOKEN_MASK] = token_masks(marks_c, encoded["offsets"], start=at_c)
    row[INCORRECT_IDS], row[INCORRECT_ATTENTION] = wrong["input_ids"], wrong["attention_mask"]
    row[INCORRECT_LINE_MASK], row[INCORRECT_TOKEN_MASK] = token_masks(marks_i, wrong["offsets"], start=at_i)
    row[PAIRED] = 1
    return row


# ---- the plugin ---------------------------------------------------------------------------------------------------


def _model_ref_or_none(spec: ModelSpec) -> str | None:
    try:
        return model_reference(spec)
    except BadInput:
        return None


def resolve_pairing(config: VariantPairing, spec: ModelSpec) -> dict:
    """plugins.training.variant_resolution for this plugin's variant source (teacher and embedding actually used)."""
    from plugins.training.variant_resolution import resolve_variants

    model_ref = _model_ref_or_none(spec)
    if config.variant_source == "teacher" and not config.variants.teacher_model and model_ref is None:
        model_reference(spec)  # raises: the teacher would be this model, which cannot be named
    return resolve_variants(config.variant_source, config.variants, model_ref)


def pairing_key(examples: list[TrainingExample], config: VariantPairing, resolution: dict) -> str:
    """What decides the variant set: the examples, the source and its settings, the models resolved."""
    from plugins.training.artifact_cache import examples_digest
    from plugins.training.variants import CACHE_VERSION

    return json_digest({"v": CACHE_VERSION, "examples": examples_digest(examples), "resolved": resolution,
                        "source": config.variant_source, "keep_given": config.keep_given_variants,
                        "variants": to_dict(dataclasses.replace(config.variants, keep_unpaired=True))})


def variant_set_digest(paired: list[TrainingExample]) -> str:
    return json_digest([[e.code, e.incorrect] for e in paired])


def _apply_pairing(examples: list[TrainingExample], entry: dict) -> list[TrainingExample]:
    out = []
    for example, incorrect, meta in zip(examples, entry["incorrect"], entry["variant_meta"], strict=True):
        extra = {"variant": meta} if meta is not None else {}
        out.append(dataclasses.replace(example, incorrect=incorrect, meta={**example.meta, **extra}))
    return out


def _served_from_cache(report: dict, key: str) -> dict:
    """A stored pairing's report as this call's: its variant-cache counts describe the call that made the set,
    and this one generated nothing (every candidate came from the cache)."""
    if "variants" not in report:
        return report
    stored = report["variants"].get("cache", {})
    cache = {**stored, "hits": stored.get("hits", 0) + stored.get("misses", 0), "misses": 0, "pairing": key[:16]}
    return {**report, "variants": {**report["variants"], "cache": cache}}


class FaultWeightedPlugin(VariantPairingPlugin):
    """Variants → masks → fault-weighted loss. Subclasses set `name` and a config class whose
    `variant_source` default names their variant source.

    `resolve` (before anything trains) names the teacher and embedding models used here, with hashes, and fails
    on a missing one; `prepare` makes the variant set (cached by `pairing_key` under the variant cache) so that
    the artifact key holds its hash; `train` uses what `prepare` made."""

    config_class = FaultWeightedConfig
    manifest_keys = ("pairs", "variants", "stats")  # pairs kept, variant counts, training stats

    def __init__(self):
        self._prepared: tuple | None = None  # (examples id, paired examples, report, loaded model or None)

    def resolve(self, model: ModelSpec, config: FaultWeightedConfig) -> dict:
        return {"variants": resolve_pairing(config, model)}

    def prepare(self, model: ModelSpec, examples: list[TrainingExample], config: FaultWeightedConfig) -> dict:
        from plugins.training.variants import VariantCache

        cache = VariantCache()
        key = pairing_key(examples, config, resolve_pairing(config, model))
        entry = cache.get("pairings", key)
        loaded = None
        if entry is None or len(entry.get("incorrect", [])) != len(examples):
            from plugins.training.artifact_saving import load_for_training

            loaded = load_for_training(model, config, wrap_lora=False)  # the teacher too, where it is this model
            paired, report = pair_examples(examples, config, model, self.name, loaded)
            entry = {"incorrect": [e.incorrect for e in paired],
                     "variant_meta": [e.meta.get("variant") if e.incorrect else None for e in paired],
                     "report": report}
            cache.put("pairings", key, entry)
        else:
            paired = _apply_pairing(examples, entry)
            report = _served_from_cache(entry["report"], key)
            print(f"{self.name}: variant set from the cache ({key[:12]})",
                  file=sys.stderr)
        self._prepared = (id(examples), paired, report, loaded)
        return {"variant_set": variant_set_digest(paired), "pairing_key": key}

    def train(self, model: ModelSpec, examples: list[TrainingExample], config: FaultWeightedConfig,
              output_dir: Path) -> Path:
        from plugins.training.artifact_saving import load_for_training

        if self._prepared is not None and self._prepared[0] == id(examples):
            _, paired, report, loaded = self._prepared
            loaded = loaded or load_for_training(model, config, wrap_lora=False)
        else:  # called directly, without prepare
            loaded = load_for_training(model, config, wrap_lora=False)  # the teacher too, where it is this model
            paired, report = pair_examples(examples, config, model, self.name, loaded)
        self._prepared = None
        report = {**report, "variant_set": variant_set_digest(paired)}
        if config.unpaired == "drop":
            paired = [e for e in paired if e.incorrect]
            if not paired:
                raise BadInput(f"{self.name}: no example got an incorrect variant and unpaired = \"drop\"")
        report["unpaired_handling"] = "dropped" if config.unpaired == "drop" else "trained with weight 1 (SFT)"
        report["examples_trained_on"] = len(paired)
        # PadCollator's defaults are the ones the loss needs: *input_ids → pad token, labels → -100, masks → 0.
        return run_training(model, paired, config, Path(output_dir), plugin=self.name, encode=encode_fault_weighted,
                            loss_fn=trainer_loss_fn(config.loss), manifest_extra={"pairs": report},
                            loaded=loaded)
