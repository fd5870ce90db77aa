"""Leaderboard footnotes read from the run manifest: what a variant's configuration resolved to when that is not
what its name says (an embedding fallback), so a reader sees it beside the numbers, not only in the manifest."""

from __future__ import annotations


def resolution_notes(manifest: dict) -> list[str]:
    notes = []
    for variant, info in sorted((manifest.get("artifacts") or {}).items()):
        variants = ((info or {}).get("pairs") or {}).get("variants") or {}
        embedding = variants.get("embedding") or {}
        if embedding.get("fallback_from"):
            notes.append(f"{variant}: variants selected by {embedding.get('method')} similarity, a fallback from "
                         f"{embedding['fallback_from']} ({embedding.get('fallback_reason', 'not available')})")
        teacher = ((info or {}).get("resolved") or {}).get("variants", {}).get("teacher")
        if teacher and teacher.get("name"):
            notes.append(f"{variant}: teacher model {teacher['name']} (hash {str(teacher.get('hash', ''))[:12]})")
    return notes
