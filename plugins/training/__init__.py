"""Training machinery shared by the methods: the trainer and its shared config, training data and
decontamination, artifacts (cache, saving), FGit's fault-weighted loss, masks and variant pairs, embeddings.
Nothing here imports a method (`plugins.methods`)."""
