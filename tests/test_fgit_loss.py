"""FGit loss: hand-computed weights, Standard-SFT equivalence, weights in (1, α], gradients vs finite differences.

Models are tiny LlamaForCausalLM built from a config (float64 where precision is checked).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from transformers import LlamaConfig, LlamaForCausalLM
from transformers.models.llama.modeling_llama import LlamaRMSNorm

from harness.core.config import from_dict
from harness.core.errors import BadInput
from harness.models import load_tokenizer, resolve_model
from plugins.training.fgit_loss import (
    DEFAULT_ELIGIBLE,
    FGitLossConfig,
    dynamic_weight,
    fgit_loss,
    masked_log_mean_prob,
    sample_weights,
    token_weights,
    trainer_loss_fn,
    weighted_nll,
)
from plugins.training.fgit_masks import INCORRECT_IDS, collate, encode_pair

QUIXBUGS = Path(__file__).resolve().parents[2] / "shared" / "data" / "QuixBugs-python.jsonl"
VOCAB = 40


class _Float64RMSNorm(LlamaRMSNorm):
    """LlamaRMSNorm computes in float32 even in a float64 model; finite differences need float64 throughout."""

    def forward(self, hidden_states):
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        return self.weight * (hidden_states * torch.rsqrt(variance + self.variance_epsilon))


def tiny_llama(vocab: int = VOCAB, seed: int = 0, init: float = 0.5, dtype=torch.float64) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, max_position_embeddings=256, initializer_range=init, tie_word_embeddings=False,
        attn_implementation="sdpa",  # eager attention takes its softmax in float32
    )
    model = LlamaForCausalLM(config).to(dtype).eval()
    if dtype == torch.float64:
        for module in model.modules():
            if isinstance(module, LlamaRMSNorm):
                module.__class__ = _Float64RMSNorm
    return model


def synthetic_batch(seed: int = 1) -> dict[str, torch.Tensor]:
    """Three samples: a normal pair, one whose ĉ mask is empty (→ w = α), one whose c mask is empty (→ SFT)."""
    g = torch.Generator().manual_seed(seed)
    B, T = 3, 12
    ids = torch.randint(0, VOCAB, (B, T), generator=g)
    labels = ids.clone()
    labels[:, :4] = -100
    labels[2, 10:] = -100  # padding at the end of the last row
    attention = torch.ones_like(ids)
    attention[2, 10:] = 0
    line = torch.zeros_like(ids)
    line[0, 6:10] = 1
    line[1, 5:8] = 1
    token = torch.zeros_like(ids)
    token[0, 7] = 1
    token[1, 6] = 1
    incorrect = ids.clone()
    incorrect[:, 7] = (incorrect[:, 7] + 3) % VOCAB
    incorrect_line = line.clone()
    incorrect_line[1] = 0
    incorrect_token = token.clone()
    incorrect_token[1] = 0
    return {
        "input_ids": ids, "attention_mask": attention, "labels": labels, "line_mask": line, "token_mask": token,
        "incorrect_input_ids": incorrect, "incorrect_attention_mask": torch.ones_like(ids),
        "incorrect_line_mask": incorrect_line, "incorrect_token_mask": incorrect_token,
    }


def reference_sft_loss(model, batch) -> torch.Tensor:
    """Standard-SFT: plain mean cross-entropy over response tokens, written independently of the code under test."""
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    return F.cross_entropy(
        logits[:, :-1].reshape(-1, logits.size(-1)), batch["labels"][:, 1:].reshape(-1), ignore_index=-100
    )


# ---- configuration ----------------------------------------------------------------------------------------


def test_config_defaults_and_validation():
    cfg = FGitLossConfig()
    assert (cfg.alpha, cfg.weight_formula, cfg.mean, cfg.mask, cfg.fixed_weight) == (2.0, "B", "weighted", "hybrid", None)
    assert cfg.grad_through_weight and cfg.per_token_scale
    assert (cfg.weight_formula, cfg.grad_through_weight) in DEFAULT_ELIGIBLE
    assert from_dict(FGitLossConfig, {"alpha": 3, "mask": "line", "fixed_weight": 2}).alpha == 3.0
    for bad in ({"weight_formula": "D"}, {"mask": "word"}, {"mean": "median"}, {"alpha": 0.5}, {"fixed_weight": 0}):
        with pytest.raises(BadInput):
            from_dict(FGitLossConfig, bad)


# ---- the weight, by hand ----------------------------------------------------------------------------------


def _w(p_c: float, p_i: float, **kw) -> float:
    cfg = FGitLossConfig(**kw)
    return dynamic_weight(torch.tensor([math.log(p_c)]), torch.tensor([math.log(p_i)]), cfg).item()


def test_dynamic_weight_hand_values():
    # P = 0.5: A and C give α, B gives 1 + (α − 1)/2
    assert _w(0.3, 0.3, weight_formula="A") == pytest.approx(2.0)
    assert _w(0.3, 0.3, weight_formula="B") == pytest.approx(1.5)
    assert _w(0.3, 0.3, weight_formula="C") == pytest.approx(2.0)
    # p̄_c = 0.9, p̄_ĉ = 0.1: P = 0.9, 4P(1−P) = 0.36
    assert _w(0.9, 0.1, weight_formula="A") == pytest.approx(1.36)
    assert _w(0.9, 0.1, weight_formula="A", alpha=3.0) == pytest.approx(1.72)
    assert _w(0.9, 0.1, weight_formula="B") == pytest.approx(1.1)
    assert _w(0.1, 0.9, weight_formula="B") == pytest.approx(1.9)
    assert _w(0.9, 0.1, weight_formula="C") == pytest.approx(2 / 1.8)
    # far apart: tends to 1 (A) without NaN even when both probabilities are tiny
    assert _w(1e-30, 1e-42, weight_formula="A") == pytest.approx(1.0, abs=1e-10)


def test_masked_mean_probability_by_hand():
    logp = torch.log(torch.tensor([[0.5, 0.2, 0.1], [0.5, 0.2, 0.1]], dtype=torch.float64))
    mask = torch.tensor([[2, 1, 0], [0, 0, 0]])
    log_mean, present = masked_log_mean_prob(logp, mask, "weighted")
    assert log_mean[0].exp().item() == pytest.approx((2 * 0.5 + 0.2) / 3)
    assert present.tolist() == [True, False]
    log_mean, _ = masked_log_mean_prob(logp, mask, "plain")
    assert log_mean[0].exp().item() == pytest.approx(0.35)


def test_edge_cases_of_the_sample_weight():
    cfg = FGitLossConfig(alpha=3.0, weight_formula="A")  # A: α at P = 0.5
    log_p = torch.log(torch.tensor([0.4, 0.4, 0.4]))
    has_c = torch.tensor([True, True, False])
    has_i = torch.tensor([True, False, False])  # normal; empty ĉ mask; identical pair
    w = sample_weights(log_p, has_c, log_p, has_i, cfg)
    assert w.tolist() == pytest.approx([3.0, 3.0, 1.0])


def test_token_weights_by_hand():
    mask = torch.tensor([[0, 1, 2]])
    weight = torch.tensor([1.8])
    assert token_weights(mask, weight, FGitLossConfig(per_token_scale=False)).tolist() == [pytest.approx([1.0, 1.8, 1.8])]
    scaled = token_weights(mask, weight, FGitLossConfig(per_token_scale=True))
    assert scaled.tolist() == [pytest.approx([1.0, 1.4, 1.8])]


def test_weighted_nll_by_hand():
    # one sample, 3 positions; uniform logits over 4 tokens: log p = log 1/4 everywhere
    logits = torch.zeros(1, 3, 4, dtype=torch.float64)
    labels = torch.tensor([[-100, 1, 2]])
    weights = torch.tensor([[1.0, 3.0, 1.0]], dtype=torch.float64)
    assert weighted_nll(logits, labels, weights).item() == pytest.approx((3 + 1) * math.log(4) / 2)
    assert weighted_nll(logits, labels, None, num_items_in_batch=8).item() == pytest.approx(2 * math.log(4) / 8)


# ---- Standard-SFT equivalence -----------------------------------------------------------------------------


def test_fixed_weight_one_is_standard_sft():
    model = tiny_llama()
    batch = synthetic_batch()
    with torch.no_grad():
        expected = reference_sft_loss(model, batch)
        got = fgit_loss(model, batch, FGitLossConfig(fixed_weight=1.0)).loss
        scaled = fgit_loss(model, batch, FGitLossConfig(fixed_weight=1.0, per_token_scale=True)).loss
        as_hf = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
    assert got.dtype == torch.float64
    assert abs(got.item() - expected.item()) < 1e-12
    assert abs(scaled.item() - expected.item()) < 1e-12
    assert abs(got.item() - as_hf.item()) < 1e-5  # transformers computes its loss in float32


def test_num_items_in_batch_is_the_divisor():
    model = tiny_llama()
    batch = synthetic_batch()
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        summed = F.cross_entropy(
            logits[:, :-1].reshape(-1, VOCAB), batch["labels"][:, 1:].reshape(-1), ignore_index=-100, reduction="sum"
        )
        got = fgit_loss(model, batch, FGitLossConfig(fixed_weight=1.0), num_items_in_batch=torch.tensor(50)).loss
    assert abs(got.item() - summed.item() / 50) < 1e-12


def test_empty_masks_give_standard_sft():
    model = tiny_llama()
    batch = synthetic_batch()
    for key in ("line_mask", "token_mask"):
        batch[key] = torch.zeros_like(batch[key])
    with torch.no_grad():
        out = fgit_loss(model, batch, FGitLossConfig())
        expected = reference_sft_loss(model, batch)
    assert out.weights.tolist() == [1.0, 1.0, 1.0]
    assert abs(out.loss.item() - expected.item()) < 1e-12


def test_fixed_weight_two_doubles_masked_tokens():
    model = tiny_llama()
    batch = synthetic_batch()
    mask = (batch["line_mask"] + batch["token_mask"]) > 0
    with torch.no_grad():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        nll = F.cross_entropy(
            logits[:, :-1].reshape(-1, VOCAB), batch["labels"][:, 1:].reshape(-1), ignore_index=-100, reduction="none"
        ).view(3, -1)
        weight = 1.0 + mask[:, 1:].double()
        n = batch["labels"][:, 1:].ne(-100).sum()
        expected = (nll * weight).sum() / n
        got = fgit_loss(model, batch, FGitLossConfig(fixed_weight=2.0, per_token_scale=False)).loss
    assert abs(got.item() - expected.item()) < 1e-12


def test_edge_case_weights_in_the_loss():
    model = tiny_llama()
    with torch.no_grad():
        out = fgit_loss(model, synthetic_batch(), FGitLossConfig(alpha=2.5))
    assert 1.0 < out.weights[0].item() <= 2.5
    assert out.weights[1].item() == 2.5  # empty mask on ĉ
    assert out.weights[2].item() == 1.0  # empty mask on c


def test_line_and_token_masks_select_different_tokens():
    model = tiny_llama()
    batch = synthetic_batch()
    with torch.no_grad():
        losses = {kind: fgit_loss(model, batch, FGitLossConfig(mask=kind, fixed_weight=3.0,
                                                               per_token_scale=False)).loss.item()
                  for kind in ("hybrid", "line", "token")}
    # without per_token_scale hybrid weights exactly the line mask's tokens (token marks lie inside the lines)
    assert losses["line"] == pytest.approx(losses["hybrid"])
    assert losses["token"] < losses["line"]  # fewer tokens weighted


def test_mean_probabilities_match_an_independent_computation():
    """p̄_c and p̄_ĉ from full forward passes (the loss cuts ĉ after its last masked token and keeps few logits)."""
    model = tiny_llama()
    batch = synthetic_batch()
    before = {k: v.clone() for k, v in batch.items()}
    with torch.no_grad():
        out = fgit_loss(model, batch, FGitLossConfig())
        expected = []
        for ids_key, line_key, token_key in (("input_ids", "line_mask", "token_mask"),
                                             ("incorrect_input_ids", "incorrect_line_mask", "incorrect_token_mask")):
            probs = model(input_ids=batch[ids_key]).logits.softmax(-1)
            ids = batch[ids_key]
            token_p = probs[:, :-1].gather(-1, ids[:, 1:, None]).squeeze(-1)
            mask = (batch[line_key] + batch[token_key])[:, 1:].double()
            expected.append((token_p * mask).sum(-1) / mask.sum(-1).clamp_min(1))
    assert torch.allclose(out.p_correct[:2], expected[0][:2], rtol=1e-10)
    assert torch.allclose(out.p_incorrect[0], expected[1][0], rtol=1e-10)
    assert out.p_incorrect[1].item() == 0.0  # empty ĉ mask
    assert all(torch.equal(before[k], batch[k]) for k in batch)  # the batch is left as it was


def test_trainer_loss_fn_returns_loss_and_metrics():
    model = tiny_llama()
    batch = synthetic_batch()
    with torch.no_grad():
        loss, metrics = trainer_loss_fn(FGitLossConfig(alpha=2.5))(model, batch, torch.tensor(20))
        out = fgit_loss(model, batch, FGitLossConfig(alpha=2.5), num_items_in_batch=20)
    assert loss.item() == out.loss.item()
    assert metrics == {}  # per-step statistics come from step_logs (paired rows only), not a batch mean


# ---- real pairs: weights in (1, α] ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quixbugs_batch():
    tokenizer = load_tokenizer(resolve_model("smollm2"))
    rows = [json.loads(line) for line in QUIXBUGS.read_text(encoding="utf-8").split("\n") if line.strip()]
    chosen = [r for r in rows if r["name"] in ("bitcount", "sqrt", "possible_change", "depth_first_search", "gcd")]
    features = []
    for row in chosen:
        prompt = f"<|im_start|>user\nWrite {row['name']}.<|im_end|>\n<|im_start|>assistant\n"
        c, i = row["solution"], row["buggy_program"]
        features.append(encode_pair(tokenizer, prompt, c + "<|im_end|>\n", i + "<|im_end|>\n", c, i))
    batch = collate(features, tokenizer.pad_token_id or 0)
    # Renumber the token ids compactly: the masks stay the tokenizer's, the model needs only a small vocabulary.
    used = torch.unique(torch.cat([batch["input_ids"].flatten(), batch[INCORRECT_IDS].flatten()]))
    compact = torch.zeros(int(used.max()) + 1, dtype=torch.long)
    compact[used] = torch.arange(len(used))
    for key in ("input_ids", INCORRECT_IDS):
        batch[key] = compact[batch[key]]
    batch["labels"] = torch.where(batch["labels"] == -100, -100, compact[batch["labels"].clamp_min(0)])
    return batch, len(used)


@pytest.fixture(scope="module")
def quixbugs_models(quixbugs_batch):
    _, vocab = quixbugs_batch
    # near-uniform predictions (P ≈ 0.5), then peaked ones (P away from 0.5)
    return [tiny_llama(vocab=vocab, seed=0, init=0.02, dtype=torch.float32),
            tiny_llama(vocab=vocab, seed=1, init=0.5, dtype=torch.float32)]


def test_weights_lie_in_one_to_alpha_on_quixbugs(quixbugs_batch, quixbugs_models):
    batch, _ = quixbugs_batch
    for model in quixbugs_models:
        for formula, alpha in (("A", 2.0), ("A", 1.5), ("A", 3.0), ("B", 2.0), ("B", 3.0), ("C", 2.0), ("C", 3.0)):
            with torch.no_grad():
                out = fgit_loss(model, batch, FGitLossConfig(alpha=alpha, weight_formula=formula))
            assert torch.isfinite(out.loss)
            assert ((out.weights > 1.0) & (out.weights <= alpha)).all(), (formula, alpha, out.weights)
            # every pair has error-sensitive tokens on both sides (dfs: a token mark on ĉ, no changed line)
            assert (out.p_correct > 0).all() and (out.p_incorrect > 0).all()


def test_depth_first_search_line_only_mask_gives_alpha(quixbugs_batch, quixbugs_models):
    batch, _ = quixbugs_batch
    with torch.no_grad():
        out = fgit_loss(quixbugs_models[0], batch, FGitLossConfig(mask="line", alpha=2.0))
    # rows: bitcount, depth_first_search, gcd, possible_change, sqrt (file order); only dfs lacks ĉ changed lines
    assert out.weights[1].item() == 2.0
    assert ((out.weights[[0, 2, 3, 4]] > 1.0) & (out.weights[[0, 2, 3, 4]] < 2.0)).all()
    assert batch[INCORRECT_IDS].shape[0] == 5


# ---- gradients vs central finite differences --------------------------------------------------------------


def _probe_entries(model):
    return [
        (model.lm_head.weight, (3, 5)),
        (model.model.embed_tokens.weight, (7, 2)),
        (model.model.layers[0].self_attn.q_proj.weight, (1, 2)),
        (model.model.layers[1].mlp.down_proj.weight, (0, 1)),
        (model.model.norm.weight, (3,)),
    ]


def _finite_difference(loss_of_model, param, index, eps=1e-5) -> float:
    with torch.no_grad():
        original = param[index].item()
        param[index] = original + eps
        plus = loss_of_model().item()
        param[index] = original - eps
        minus = loss_of_model().item()
        param[index] = original
    return (plus - minus) / (2 * eps)


def _autograd(model, loss) -> list[float]:
    model.zero_grad()
    loss.backward()
    return [param.grad[index].item() for param, index in _probe_entries(model)]


class _FrozenIncorrect(torch.nn.Module):
    """Runs the ĉ pass on a frozen copy: the function whose gradient grad_through_incorrect=False computes."""

    def __init__(self, live, frozen, incorrect_ids):
        super().__init__()
        self.live, self.frozen, self.incorrect_ids = live, frozen, incorrect_ids

    def forward(self, input_ids, **kwargs):
        # the ĉ pass gets a (truncated) view of the batch's incorrect_input_ids: same storage
        model = self.frozen if input_ids.data_ptr() == self.incorrect_ids.data_ptr() else self.live
        return model(input_ids=input_ids, **kwargs)


@pytest.mark.parametrize(
    "options",
    [
        {"weight_formula": "A"},
        {"weight_formula": "B"},
        {"weight_formula": "C", "alpha": 3.0},
        {"weight_formula": "A", "mean": "plain", "per_token_scale": True, "alpha": 2.5},
        {"weight_formula": "B", "mask": "token"},
    ],
)
def test_gradient_through_the_weight_matches_finite_differences(options):
    model = tiny_llama()
    batch = synthetic_batch()
    cfg = FGitLossConfig(**options)
    grads = _autograd(model, fgit_loss(model, batch, cfg).loss)
    for (param, index), grad in zip(_probe_entries(model), grads, strict=True):
        numeric = _finite_difference(lambda: fgit_loss(model, batch, cfg).loss, param, index)
        assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-9), (param.shape, index)


def test_detached_weight_gradient_matches_finite_differences_at_fixed_weight():
    model = tiny_llama()
    batch = synthetic_batch()
    cfg = FGitLossConfig(weight_formula="B", grad_through_weight=False)
    out = fgit_loss(model, batch, cfg)
    detached = _autograd(model, out.loss)
    full = _autograd(model, fgit_loss(model, batch, FGitLossConfig(weight_formula="B")).loss)
    mask = batch["line_mask"] + batch["token_mask"]
    frozen_weights = token_weights(mask, out.weights, cfg)  # the weights at the current parameters, constant

    def loss_at_fixed_weight():
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return weighted_nll(logits, batch["labels"], frozen_weights)

    for (param, index), grad in zip(_probe_entries(model), detached, strict=True):
        assert grad == pytest.approx(_finite_difference(loss_at_fixed_weight, param, index), rel=1e-6, abs=1e-9)
    # the weight's own gradient is not negligible here: detaching it changes the result
    assert max(abs(a - b) for a, b in zip(full, detached, strict=True)) > 1e-4


def test_gradient_without_the_incorrect_graph_matches_finite_differences():
    model = tiny_llama()
    frozen = tiny_llama()  # same seed: identical weights
    batch = synthetic_batch()
    cfg = FGitLossConfig(weight_formula="B", grad_through_incorrect=False)
    grads = _autograd(model, fgit_loss(model, batch, cfg).loss)
    wrapped = _FrozenIncorrect(model, frozen, batch[INCORRECT_IDS])
    full_cfg = FGitLossConfig(weight_formula="B", share_prefix=False)  # the wrapper needs the whole ĉ pass
    for (param, index), grad in zip(_probe_entries(model), grads, strict=True):
        numeric = _finite_difference(lambda: fgit_loss(wrapped, batch, full_cfg).loss, param, index)
        assert grad == pytest.approx(numeric, rel=1e-6, abs=1e-9)


# ---- the shared prefix: the ĉ pass reuses the c pass's keys/values where c and ĉ agree ----------------------


class _CountingModel(torch.nn.Module):
    """Records how many positions every forward pass runs."""

    def __init__(self, model):
        super().__init__()
        self.model, self.lengths = model, []

    def forward(self, input_ids, **kwargs):
        self.lengths.append(input_ids.size(1))
        return self.model(input_ids=input_ids, **kwargs)


@pytest.mark.parametrize("options", [{}, {"weight_formula": "B", "grad_through_incorrect": False},
                                     {"mask": "token", "mean": "plain"}])
def test_sharing_the_prefix_gives_the_same_loss_and_gradients(options):
    for batch in (synthetic_batch(), synthetic_batch(seed=5)):
        model = _CountingModel(tiny_llama())
        shared = fgit_loss(model, batch, FGitLossConfig(**options))
        grads_shared = _autograd(model.model, shared.loss)
        recomputed = fgit_loss(model, batch, FGitLossConfig(share_prefix=False, **options))
        grads_full = _autograd(model.model, recomputed.loss)
        assert shared.loss.item() == pytest.approx(recomputed.loss.item(), rel=1e-12)
        assert torch.allclose(shared.weights, recomputed.weights, rtol=1e-12)
        assert grads_shared == pytest.approx(grads_full, rel=1e-9, abs=1e-12)
        # c runs whole (12). ĉ's masked tokens (row 0): hybrid 6..9, token-only 7; rows agree up to position 6.
        # With the cache ĉ runs from the position predicting its first masked token to its last masked token
        # (5..9, or 6..7), without it from 0.
        first, last = (7, 7) if options.get("mask") == "token" else (6, 9)
        assert model.lengths == [12, last - first + 2, 12, last + 1]


def test_sharing_the_prefix_on_real_pairs(quixbugs_batch, quixbugs_models):
    batch, _ = quixbugs_batch
    model = _CountingModel(quixbugs_models[1])
    with torch.no_grad():
        shared = fgit_loss(model, batch, FGitLossConfig())
        recomputed = fgit_loss(model, batch, FGitLossConfig(share_prefix=False))
    assert torch.allclose(shared.loss, recomputed.loss, rtol=1e-5)
    assert torch.allclose(shared.p_incorrect, recomputed.p_incorrect, rtol=1e-4)
    assert model.lengths[1] < model.lengths[3]  # the shared pass ran fewer positions


# ---- hybrid masks weight changed tokens above their lines (the mask ablation measures something) -----------


def test_hybrid_weights_differ_from_line_weights_on_real_pairs(quixbugs_batch, quixbugs_models):
    batch, _ = quixbugs_batch
    model = quixbugs_models[1]
    with torch.no_grad():
        hybrid = fgit_loss(model, batch, FGitLossConfig(mask="hybrid"))
        line = fgit_loss(model, batch, FGitLossConfig(mask="line"))
    assert hybrid.loss.item() != pytest.approx(line.loss.item(), rel=1e-6)
    m = (batch["line_mask"] + batch["token_mask"]) * batch["labels"].ne(-100)
    assert (m == 2).any() and (m == 1).any()  # real pairs have changed tokens inside longer changed lines
    w = token_weights(m, hybrid.weights, FGitLossConfig())
    for row in range(m.size(0)):
        extra = hybrid.weights[row].item() - 1
        assert torch.allclose(w[row][m[row] == 2], torch.tensor(1 + extra))  # changed tokens: the full weight
        assert torch.allclose(w[row][m[row] == 1], torch.tensor(1 + extra / 2))  # rest of the line: half the extra
        assert torch.all(w[row][m[row] == 0] == 1)
    w_line = token_weights(batch["line_mask"] * batch["labels"].ne(-100), line.weights, FGitLossConfig(mask="line"))
    assert not torch.allclose(w, w_line)


# ---- the default weight's step never moves the model toward ĉ ----------------------------------------------


def _pair_with_preference(model, target_p: float) -> dict[str, torch.Tensor]:
    """c and ĉ differ in a two-token segment (positions 7-8, both masked on both sides); the model's next-token
    distribution at position 7 decides P ≈ target_p. ĉ's second token is predicted in a context c never has, so
    it moves mostly through the weight's gradient, as on real pairs."""
    ids = torch.randint(0, VOCAB, (1, 10), generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        probs = model(input_ids=ids).logits[0, 6].softmax(-1)
    pairs = [(abs(probs[a] / (probs[a] + probs[b]) - target_p).item(), a, b)
             for a in range(VOCAB) for b in range(VOCAB) if a != b]
    _, c_tok, i_tok = min(pairs)
    ids[0, 7] = c_tok
    incorrect = ids.clone()
    incorrect[0, 7] = i_tok
    incorrect[0, 8] = (ids[0, 8] + 1) % VOCAB
    labels = torch.full_like(ids, -100)
    labels[0, 7:9] = ids[0, 7:9]
    marks = torch.zeros_like(ids)
    marks[0, 7:9] = 1
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels, "line_mask": marks.clone(),
            "token_mask": marks.clone(), "incorrect_input_ids": incorrect,
            "incorrect_attention_mask": torch.ones_like(ids), "incorrect_line_mask": marks.clone(),
            "incorrect_token_mask": marks.clone()}


def _margin(model, batch) -> float:
    """log p̄_c − log p̄_ĉ (hybrid weighted means) from full forward passes, independently of the loss code."""
    values = []
    with torch.no_grad():
        for ids_key, line_key, token_key in (("input_ids", "line_mask", "token_mask"),
                                             ("incorrect_input_ids", "incorrect_line_mask", "incorrect_token_mask")):
            probs = model(input_ids=batch[ids_key]).logits.softmax(-1)
            token_p = probs[:, :-1].gather(-1, batch[ids_key][:, 1:, None]).squeeze(-1)
            mask = (batch[line_key] + batch[token_key])[:, 1:].double()
            values.append(math.log(((token_p * mask).sum() / mask.sum()).item()))
    return values[0] - values[1]


def _step_margin_change(options: dict, target_p: float) -> tuple[float, float]:
    model = tiny_llama(init=0.5)
    batch = _pair_with_preference(model, target_p)
    before = _margin(model, batch)
    p = 1 / (1 + math.exp(-before))
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)  # small: the first-order direction
    fgit_loss(model, batch, FGitLossConfig(**options)).loss.backward()
    optimizer.step()
    return p, _margin(model, batch) - before


@pytest.mark.parametrize("formula,grad", DEFAULT_ELIGIBLE)
@pytest.mark.parametrize("target_p", [0.3, 0.8])
def test_one_step_moves_away_from_the_incorrect_variant(formula, grad, target_p):
    for extra in ({}, {"grad_through_incorrect": False}, {"mask": "line"}):
        p, change = _step_margin_change({"weight_formula": formula, "grad_through_weight": grad, **extra}, target_p)
        assert abs(p - target_p) < 0.05  # the pair has the preference asked for (P below or above 0.5)
        assert change > 0, (formula, grad, extra, p, change)  # P = σ(margin) rose: toward c, away from ĉ


def test_the_weight_gradient_of_b_adds_to_the_step_and_that_of_a_opposes_it_below_half():
    """Why B with the gradient is the default and A with it is not: at P < 0.5 A's weight gradient lowers P."""
    for target_p in (0.3, 0.8):
        _, with_grad = _step_margin_change({"weight_formula": "B"}, target_p)
        _, detached = _step_margin_change({"weight_formula": "B", "grad_through_weight": False}, target_p)
        assert with_grad > detached > 0
    p, change_a = _step_margin_change({"weight_formula": "A"}, 0.3)
    assert p < 0.5 and change_a < 0  # the finding: toward ĉ
    assert ("A", True) not in DEFAULT_ELIGIBLE and ("C", True) not in DEFAULT_ELIGIBLE


# ---- weight statistics over paired rows only ---------------------------------------------------------------


def test_weight_statistics_cover_paired_rows_only():
    model = tiny_llama()
    batch = synthetic_batch()
    # a fourth row without a variant: no marks on either side, ĉ = c (as plugins.training.fault_weighted encodes it)
    batch = {k: torch.cat([v, v[:1]]) for k, v in batch.items()}
    for key in ("line_mask", "token_mask", "incorrect_line_mask", "incorrect_token_mask"):
        batch[key][3] = 0
    batch["incorrect_input_ids"][3] = batch["input_ids"][3]
    batch["fgit_paired"] = torch.tensor([1, 1, 1, 0])  # row 2 is paired but its marks fall outside the labels
    cfg = FGitLossConfig()
    loss_fn = trainer_loss_fn(cfg)
    with torch.no_grad():
        loss_fn(model, batch)
        out = fgit_loss(model, batch, cfg)
    logs = loss_fn.step_logs()
    assert out.weights[3].item() == 1.0 and out.p_correct[3].item() == 0.0  # what would bias a batch mean
    # rows 0-2 are paired; only row 0 has marks on both sides, so only it has a P
    assert logs["fgit_pairs"] == 3 and logs["fgit_pairs_with_P"] == 1
    assert logs["fgit_weight_mean"] == pytest.approx(out.weights[:3].mean().item())
    p0 = out.p_correct[0].item() / (out.p_correct[0].item() + out.p_incorrect[0].item())
    assert logs["fgit_P_mean"] == pytest.approx(p0)
    assert logs["fgit_share_P_below_half"] == float(p0 < 0.5)
    mask = (batch["line_mask"] + batch["token_mask"]) * batch["labels"].ne(-100)
    assert logs["fgit_weighted_tokens_mean"] == pytest.approx((mask[:3] > 0).sum(1).double().mean().item())
    assert loss_fn.step_logs() == {"fgit_pairs": 0, "fgit_pairs_with_P": 0}  # reset after each step
    summary = loss_fn.summary()
    assert summary["pairs"] == 3 and summary["rows_seen"] == 4
    assert sum(summary["histograms"]["weight"]["counts"]) == 3 and sum(summary["histograms"]["P"]["counts"]) == 1


# ---- share_prefix is exact where it is used: off under active dropout ---------------------------------------


def test_share_prefix_is_off_under_lora_dropout_in_training_and_exact():
    from peft import LoraConfig, get_peft_model

    from plugins.training.fgit_loss import share_prefix_active

    base = tiny_llama()
    model = get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.5, target_modules=["q_proj", "v_proj"]))
    counting = _CountingModel(model)
    batch = synthetic_batch()
    model.train()
    assert not share_prefix_active(counting, FGitLossConfig())  # dropout draws masks: a shared prefix would differ
    torch.manual_seed(0)
    shared = fgit_loss(counting, batch, FGitLossConfig())
    torch.manual_seed(0)
    recomputed = fgit_loss(counting, batch, FGitLossConfig(share_prefix=False))
    assert shared.loss.item() == recomputed.loss.item()  # same dropout draws: the same computation
    assert counting.lengths[1] == counting.lengths[3] == 10  # ĉ ran from position 0 to its last masked token
    model.eval()  # no dropout: sharing applies again, and stays exact
    assert share_prefix_active(counting, FGitLossConfig())
    counting.lengths.clear()
    with torch.no_grad():
        a = fgit_loss(counting, batch, FGitLossConfig())
        b = fgit_loss(counting, batch, FGitLossConfig(share_prefix=False))
    assert a.loss.item() == pytest.approx(b.loss.item(), rel=1e-12)
    assert counting.lengths[1] < counting.lengths[3]
