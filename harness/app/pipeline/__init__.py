"""The comparison run: config → train (plugin) → generate → evaluate (sandbox) → leaderboard."""
