"""Leaderboards from run directories: a long result table, paired statistics, renderers and the regression gate.

- `table`: RUN_DIR → pandas long table (variant × metric × task → passed / status / excluded)
- `binomial`: Wilson intervals, paired bootstrap Δpass@1, exact McNemar; `stats`: `build_leaderboard`
- `render` (md, csv, tex), `html` (self-contained page), `baseline` (JSON export = the gate's baseline format);
  `formatting`: what they share; `sections`: the sections and footnotes plugins add (asked by the application layer)
- `gate`: `run_gate(baseline, current_run_dir, max_drop_pp, alpha) -> GateReport`
"""
