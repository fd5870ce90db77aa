"""Defaults of the leaderboard statistics and the gate, in a module without pandas/numpy: the CLI reads them to
build its parser, and every command (even `--help`) builds the whole parser."""

DEFAULT_RESAMPLES = 10_000  # paired bootstrap resamples
DEFAULT_SEED = 0  # bootstrap seed: reruns agree
DEFAULT_MAX_DROP_PP = 1.0  # the gate's allowed pass@1 drop, percentage points
DEFAULT_ALPHA = 0.05  # the gate's significance level (exact McNemar)
