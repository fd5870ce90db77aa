"""Variant instances and chaining in a comparison run.

`[plugins.<variant>]` may name the plugin it instantiates (`plugin = "grpo"`) and the variant whose artifact it
starts from (`from = "sft"`), so `sft-grpo` (SFT, then GRPO) is a variant of its own next to `grpo` (from the base
model). The chained variant's stage key and artifact key take the upstream artifact in place of the base model:
its cache key (stage) and content hash (artifact), so changing the SFT settings retrains both. A grid's
`[variant.<name>]` instance takes `from` too; harness.app.pipeline.grid picks each unit's upstream unit.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.errors import BadInput

INSTANCE_KEYS = ("plugin", "from")  # keys of a [plugins.<variant>] table that are not plugin settings


def _instance_table(config, variant: str) -> dict:
    """The table that defines `variant`: a grid's `[variant.<name>]`, else its `[plugins.<name>]` table."""
    variants = getattr(config, "variant", None) or {}
    return variants.get(variant) or config.plugins.get(variant, {})


def plugin_of(config, variant: str) -> str:
    return _instance_table(config, variant).get("plugin", variant)


def upstream_of(config, variant: str) -> str | None:
    return _instance_table(config, variant).get("from")


def check_chains(config) -> None:
    """Every `from` names a variant listed earlier in the run (so it is trained first); no cycles. In a grid,
    `from` may name one expanded instance of that variant (`sft[learning_rate=0.001]`)."""
    for position, variant in enumerate(config.variants):
        upstream = upstream_of(config, variant)
        if upstream is None:
            continue
        if not isinstance(upstream, str) or upstream.split("[", 1)[0] not in config.variants[:position]:
            raise BadInput(f"[plugins.{variant}] from = {upstream!r}: that variant must be listed before "
                           f"{variant!r} in `variants`")


def start_model(run, variant: str, base: dict) -> dict:
    """{"ref", "hash", "from"} of the model `variant` (a unit of the run) trains from: its base model, or the
    artifact of its upstream unit (harness.app.pipeline.grid: same model and seed; trained earlier in this run)."""
    upstream = run.unit(variant).upstream
    if upstream is None:
        return {**base, "from": None}
    record = next((r for r in run.records if r["variant"] == upstream and r["benchmark"] is None), None)
    if record is None:
        raise BadInput(f"variant {variant!r} starts from {upstream!r}, which was not trained in this run")
    return {"ref": str(run.run_dir / upstream / "artifact"), "hash": record["info"]["artifact"], "from": upstream}


def synth_training_file(data: str) -> Path | None:
    """`data = "synth"` or `"synth:<seed>"`: the synthetic set's train.jsonl (built into the cache on first use);
    `"synth"` follows $FGIT_BENCH_SYNTH like the composite benchmark does. None for any other source."""
    if data != "synth" and not data.startswith("synth:"):
        return None
    from harness.synth.store import synth_dir

    seed = None
    if data.startswith("synth:"):
        try:
            seed = int(data.split(":", 1)[1])
        except ValueError:
            raise BadInput(f"training data {data!r}: expected synth or synth:<seed>") from None
    return synth_dir(seed) / "train.jsonl"
