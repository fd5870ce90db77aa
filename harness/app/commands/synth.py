"""`fgit-bench synth`: write the seeded synthetic task set (atoms + composites, validated in the sandbox).

    fgit-bench synth --seed 0 --output DIR [--sandbox auto] [--jobs N] [--composites 160] [--held-out-composites 40]

DIR/train.jsonl (what `fgit-bench train --variant sft|grpo --data` reads), DIR/test.jsonl (the `test` and
`atoms-held-out` splits the `composite` benchmark scores) and DIR/manifest.json (splits, dropped tasks, hashes).
"""

from __future__ import annotations

import os
from pathlib import Path

from harness.core.errors import BadInput


def register(subparsers) -> None:
    p = subparsers.add_parser("synth", help="write the synthetic atomic/composite task set (train/test splits)",
                              description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="seed of the whole set (same seed: identical files)")
    p.add_argument("--output", required=True, help="directory to write (replaced when it holds an earlier set)")
    p.add_argument("--sandbox", default="auto", help="auto | docker | bwrap | process: where references run")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel sandbox workers")
    p.add_argument("--composites", type=int, default=None, help="train + test composites to draw (default 160)")
    p.add_argument("--held-out-composites", type=int, default=None, help="atoms-held-out composites (default 40)")
    p.add_argument("--data-dir", default=None, help="HumanEval+/MBPP+ files for decontamination")
    p.set_defaults(func=run)


def run(args) -> int:
    from harness.synth.build import SynthConfig, synthesize
    from harness.synth.store import is_synth_dir
    from sandboxes import make_sandbox

    output = Path(args.output)
    if output.exists() and (not output.is_dir() or (any(output.iterdir()) and not is_synth_dir(output))):
        raise BadInput(f"--output {output} exists and holds something other than a synth task set")
    if args.jobs < 1:
        raise BadInput("--jobs must be at least 1")
    overrides = {k: v for k, v in (("composites", args.composites),
                                   ("held_out_composites", args.held_out_composites)) if v is not None}
    config = SynthConfig(seed=args.seed, **overrides)
    with make_sandbox(args.sandbox, jobs=args.jobs) as sandbox:
        manifest = synthesize(config, output, sandbox, data_dir=args.data_dir)
    counts = manifest["counts"]
    print(f"synth seed {args.seed}: train {counts['train']['atom']} atoms + {counts['train']['composite']} "
          f"composites, test {counts['test']['composite']} composites, atoms-held-out "
          f"{counts['atoms-held-out']['composite']} composites; {len(manifest['dropped'])} dropped; "
          f"hash {manifest['hash'][:16]}; written to {output}")
    return 0
