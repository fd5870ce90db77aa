"""A training method published as its own package registers itself through the `fgit_bench.plugins` entry point,
and trains through `fgit-bench train` and `run` without any file of this repository changed.

The package is written to a temp directory (its module and a `.dist-info` with entry_points.txt, as pip installs
one) and put on the subprocesses' PYTHONPATH. Its plugin records what it was given, so the test checks that
`[plugins.<name>]`, `[training.shared]` and the training rows reached it."""

from __future__ import annotations

import json

from tests.conftest import SHARED_DATA, run_cli
from tests.entry_points import dist_info, pythonpath
from tests.generation_support import tiny_model_dir
from tests.run_support import canonical_samples, write_samples

PLUGIN = '''
import json
import os
from dataclasses import dataclass, field

from plugins.base import TrainingPlugin  # the pre-0.2 path: still works (a shim)


@dataclass
class ToyMethodConfig:
    scale: float = field(default=1.0, metadata={"help": "how much the toy method scales nothing"})
    learning_rate: float = field(default=0.0, metadata={"help": "given by [training.shared] where set"})


class ToyMethod(TrainingPlugin):
    name = "toymethod"
    label = "Toy method"
    order = 55
    needs_data = True
    config_class = ToyMethodConfig

    def resolve(self, model, config):
        return {"choice": os.environ.get("TOY_CHOICE", "a")}  # what a selection resolved to on this machine

    def train(self, model, examples, config, output_dir):
        (output_dir / "artifact.json").write_text(json.dumps({
            "kind": "base", "plugin": self.name, "base_model": model.to_json(),
            "base_model_hash": model.content_hash()}))
        (output_dir / "toy.json").write_text(json.dumps({
            "examples": len(examples), "scale": config.scale, "learning_rate": config.learning_rate,
            "choice": os.environ.get("TOY_CHOICE", "a")}))
        return output_dir
'''

CONFIG = '''
[training.shared]
learning_rate = 0.001
[plugins.toymethod]
scale = 2.5
'''


def _package(tmp_path):
    site = tmp_path / "site"
    (site / "fgit_toy_method").mkdir(parents=True)
    (site / "fgit_toy_method" / "__init__.py").write_text(PLUGIN, encoding="utf-8")
    return pythonpath(dist_info(site, "fgit-toy-method", {"fgit_bench.plugins": {
        "toymethod": "fgit_toy_method:ToyMethod"}}))


def test_entry_point_plugin_trains_through_train_and_run(tmp_path):
    env = _package(tmp_path)
    model = str(tiny_model_dir())
    config = tmp_path / "train.toml"
    config.write_text(CONFIG, encoding="utf-8")
    data = str(SHARED_DATA / "EvolInstruct-Code-4k.jsonl.gz")
    proc = run_cli("train", "--variant", "toymethod", "--model", model, "--data", data, "--limit", "3",
                   "--benchmarks", "none", "--config", str(config), "--output", str(tmp_path / "artifact"), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((tmp_path / "artifact" / "toy.json").read_text()) == {
        "examples": 3, "scale": 2.5, "learning_rate": 0.001, "choice": "a"}

    # a typo in its table is one line, exit 2, as for the built-in plugins
    (tmp_path / "bad.toml").write_text("[plugins.toymethod]\nscael = 1.0\n", encoding="utf-8")
    proc = run_cli("train", "--variant", "toymethod", "--model", model, "--data", data, "--config",
                   str(tmp_path / "bad.toml"), "--output", str(tmp_path / "o2"), env=env)
    assert proc.returncode == 2 and "did you mean 'scale'" in proc.stderr, proc.stderr

    replay = write_samples(tmp_path / "replay.jsonl", canonical_samples("humaneval", 2))
    run_toml = tmp_path / "run.toml"
    run_toml.write_text(f'model = {json.dumps(model)}\nvariants = ["toymethod", "base"]\nsandbox = "process"\n'
                        f'jobs = 1\n[generation]\nbackend = "replay"\nsamples_from = {json.dumps(str(replay))}\n'
                        '[training]\nlimit = 2\n[[benchmarks]]\nname = "humaneval"\nlimit = 2\n' + CONFIG,
                        encoding="utf-8")
    proc = run_cli("run", "--config", str(run_toml), "--output", str(tmp_path / "run"), env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((tmp_path / "run" / "toymethod" / "artifact" / "toy.json").read_text()) == {
        "examples": 2, "scale": 2.5, "learning_rate": 0.001, "choice": "a"}
    # the leaderboard shows its label, in its declared order (after Base, order 0)
    table = [line for line in proc.stdout.splitlines() if line.startswith("| ")]  # header, rows (not |---|)
    labels = [line.split("|")[1].strip() for line in table[1:3]]
    assert labels == ["Base", "Toy method"], proc.stdout

    # the train stage key holds what the plugin resolved: another resolution retrains, the same one is cached
    proc = run_cli("run", "--config", str(run_toml), "--output", str(tmp_path / "run"), env={**env, "TOY_CHOICE": "b"})
    assert proc.returncode == 0 and "toymethod: train: running" in proc.stderr, proc.stderr[-3000:]
    assert "base: train: cached" in proc.stderr
    assert json.loads((tmp_path / "run" / "toymethod" / "artifact" / "toy.json").read_text())["choice"] == "b"
    proc = run_cli("run", "--config", str(run_toml), "--output", str(tmp_path / "run"), env={**env, "TOY_CHOICE": "b"})
    assert proc.returncode == 0 and "toymethod: train: cached" in proc.stderr, proc.stderr[-3000:]
