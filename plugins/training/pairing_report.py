"""What the plugins that pair examples with incorrect variants (`VariantPairing`: FGit, mutation, DPO) put into the
run manifest and the leaderboard: their `pairs` record (pairs kept, how variants were chosen), and a footnote
wherever the configuration resolved to something its name does not say (an embedding fallback, the teacher model
actually used), so a reader sees it beside the numbers, not only in the manifest."""

from __future__ import annotations

from plugins.api import PluginReport, TrainingPlugin


def pairing_notes(variant: str, record: dict) -> list[str]:
    """The footnotes of one variant's training record (the run manifest's `artifacts.<variant>`)."""
    notes = []
    variants = ((record or {}).get("pairs") or {}).get("variants") or {}
    embedding = variants.get("embedding") or {}
    if embedding.get("fallback_from"):
        notes.append(f"{variant}: variants selected by {embedding.get('method')} similarity, a fallback from "
                     f"{embedding['fallback_from']} ({embedding.get('fallback_reason', 'not available')})")
    teacher = (((record or {}).get("resolved") or {}).get("variants") or {}).get("teacher")
    if teacher and teacher.get("name"):
        notes.append(f"{variant}: teacher model {teacher['name']} (hash {str(teacher.get('hash', ''))[:12]})")
    return notes


class VariantPairingPlugin(TrainingPlugin):
    """A plugin whose artifact holds a `pairs` record (plugins.training.fault_weighted.VariantPairing): it goes into
    the run manifest, and the leaderboard notes an embedding fallback and the teacher model."""

    manifest_keys = ("pairs",)

    def leaderboard_report(self, board, records: dict[str, dict]) -> PluginReport:
        footnotes = {variant: notes for variant, record in records.items() if (notes := pairing_notes(variant, record))}
        return PluginReport(footnotes=footnotes)
