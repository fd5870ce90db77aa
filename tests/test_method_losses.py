"""SED-SFT, GEM, DFT and the hotfixing objectives against independent computations on hand-made logits."""

from __future__ import annotations

import math
import random

import pytest
import torch

from plugins.methods.diversity_losses import calibrate_tau, dft_loss, gem_loss, sed_sft_loss, top_k_mass
from plugins.methods.hotfix_loss import HotfixLossConfig, hotfix_loss, masked_ce, retain_kl
from plugins.training.fgit_masks import INCORRECT_ATTENTION, INCORRECT_IDS, INCORRECT_LINE_MASK, LINE_MASK

V = 6


def _softmax(row: list[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(x - top) for x in row]
    return [e / sum(exps) for e in exps]


def _batch(seed: int = 0, length: int = 7):
    """Logits (2, T, V) and labels with a prompt (-100) and padding (-100)."""
    generator = torch.Generator().manual_seed(seed)
    logits = (torch.randn(2, length, V, generator=generator) * 2).requires_grad_(True)
    labels = torch.randint(0, V, (2, length), generator=generator)
    labels[0, :3] = -100  # prompt
    labels[1, :2] = -100
    labels[1, -2:] = -100  # padding
    return logits, labels


def _positions(logits, labels):
    """(probabilities of position t, gold token t + 1) for every position predicting a response token."""
    out = []
    for b in range(labels.shape[0]):
        for t in range(labels.shape[1] - 1):
            if int(labels[b, t + 1]) != -100:
                out.append((_softmax(logits[b, t].tolist()), int(labels[b, t + 1])))
    return out


# ---- SED-SFT ------------------------------------------------------------------------------------------------------


def test_tau_puts_a_fraction_r_of_a_constructed_distribution_at_or_above_it():
    # 100 positions whose top-1 mass is exactly m_i (the other 9 tokens share 1 - m_i), in shuffled order
    masses = [0.1 + 0.009 * i for i in range(100)]
    random.Random(0).shuffle(masses)
    logits = torch.tensor([[math.log(m)] + [math.log((1 - m) / 9)] * 9 for m in masses])
    measured = top_k_mass(logits, 1)
    assert torch.allclose(measured, torch.tensor(masses), atol=1e-6)
    tau = calibrate_tau(measured, 0.7)
    assert tau == pytest.approx(sorted(masses, reverse=True)[69], abs=1e-6)  # the 70th largest: 0.37
    assert sum(m >= tau - 1e-7 for m in masses) == 70
    assert calibrate_tau(measured, 1.0) == pytest.approx(min(masses), abs=1e-6)


def test_sed_sft_adds_the_diversity_term_only_where_the_top_k_mass_is_below_tau():
    logits, labels = _batch()
    rows = _positions(logits, labels)
    tau, lam = sorted(sum(sorted(probs, reverse=True)[:2]) for probs, _ in rows)[len(rows) // 2], 1.5
    loss, stats = sed_sft_loss(logits, labels, tau, k_mask=2, lam=lam)
    expected, masked = 0.0, 0
    for probs, gold in rows:
        p = probs[gold]
        top2 = sum(sorted(probs, reverse=True)[:2])
        in_mask = top2 < tau
        masked += in_mask
        expected += -math.log(p) + (lam * (p - 0.5) ** 2 if in_mask else 0.0)
    assert 0 < masked < len(rows)  # both kinds of position occur
    assert float(loss) == pytest.approx(expected / len(rows), rel=1e-5)
    assert stats["masked_fraction"] == pytest.approx(masked / len(rows))
    # division by the accumulated batch's token count, like SFT's loss
    loss_ga, _ = sed_sft_loss(logits, labels, tau, k_mask=2, lam=lam, num_items_in_batch=4 * len(rows))
    assert float(loss_ga) == pytest.approx(expected / (4 * len(rows)), rel=1e-5)


def test_sed_sft_gradient_is_plain_cross_entropy_at_unmasked_positions():
    logits, labels = _batch(seed=3)
    sed, _ = sed_sft_loss(logits, labels, tau=0.0, k_mask=2, lam=1.0)  # nothing is below tau 0
    (grad_sed,) = torch.autograd.grad(sed, logits)
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=-100)
    (grad_ce,) = torch.autograd.grad(ce, logits)
    assert torch.allclose(grad_sed, grad_ce, atol=1e-6)
    everywhere, _ = sed_sft_loss(logits, labels, tau=2.0, k_mask=2, lam=1.0)  # everything is below tau 2
    (grad_all,) = torch.autograd.grad(everywhere, logits)
    assert not torch.allclose(grad_all, grad_ce, atol=1e-4)  # the (p - 1/2)^2 term has a gradient


# ---- GEM and DFT ----------------------------------------------------------------------------------------------------


def test_gem_equals_its_formula():
    logits, labels = _batch(seed=1)
    beta = 0.7
    expected = 0.0
    for b in range(2):
        for t in range(labels.shape[1] - 1):
            gold = int(labels[b, t + 1])
            if gold == -100:
                continue
            z = logits[b, t].tolist()
            p, q = _softmax(z), _softmax([x / beta for x in z])
            expected += -sum(q[v] * (math.log(p[gold]) - math.log(p[v])) for v in range(V))
    n = len(_positions(logits, labels))
    assert float(gem_loss(logits, labels, beta=beta)) == pytest.approx(expected / n, rel=1e-5)


def test_gem_target_distribution_carries_no_gradient():
    logits, labels = _batch(seed=2)
    (grad,) = torch.autograd.grad(gem_loss(logits, labels, beta=0.7), logits)
    # independent: q constant, d/dz of -(log p_y - Σ q_v log p_v) = (p - onehot) - (p - q) = q - onehot
    expected = torch.zeros_like(logits)
    n = len(_positions(logits, labels))
    for b in range(2):
        for t in range(labels.shape[1] - 1):
            gold = int(labels[b, t + 1])
            if gold != -100:
                q = torch.softmax(logits[b, t].detach() / 0.7, -1)
                expected[b, t] = (q - torch.nn.functional.one_hot(torch.tensor(gold), V)) / n
    assert torch.allclose(grad, expected, atol=1e-6)


def test_dft_is_cross_entropy_times_the_detached_gold_probability():
    logits, labels = _batch(seed=4)
    loss = dft_loss(logits, labels)
    (grad,) = torch.autograd.grad(loss, logits)
    ce = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(),
                                           ignore_index=-100, reduction="none")
    p = torch.exp(-ce).detach()
    keep = labels[:, 1:].flatten().ne(-100)
    reference = (ce * p)[keep].mean()
    (grad_ref,) = torch.autograd.grad(reference, logits)
    assert float(loss) == pytest.approx(float(reference), rel=1e-6)
    assert torch.allclose(grad, grad_ref, atol=1e-7)
    expected = sum(-math.log(probs[g]) * probs[g] for probs, g in _positions(logits, labels))
    assert float(loss) == pytest.approx(expected / int(keep.sum()), rel=1e-5)


# ---- hotfixing ------------------------------------------------------------------------------------------------------


def _independent_masked_ce(logits, ids, mask):
    total, count = 0.0, 0
    for b in range(ids.shape[0]):
        for t in range(1, ids.shape[1]):
            if mask[b, t]:
                total += -math.log(_softmax(logits[b, t - 1].tolist())[int(ids[b, t])])
                count += 1
    return total / count


class FixedLogits(torch.nn.Module):
    """A 'model' returning given logits per input: the fixed side and the buggy side."""

    def __init__(self, fixed_ids, fixed_logits, buggy_logits):
        super().__init__()
        self.fixed_ids, self.fixed, self.buggy = fixed_ids, fixed_logits, buggy_logits

    def forward(self, input_ids, attention_mask):
        logits = self.fixed if torch.equal(input_ids, self.fixed_ids) else self.buggy
        return type("Out", (), {"logits": logits})()


@pytest.mark.parametrize("objective", ["learn_all", "learn_added", "unlearn_deleted", "bounded"])
def test_hotfix_objectives_equal_masked_cross_entropy(objective):
    fixed_logits, labels = _batch(seed=5)
    buggy_logits, _ = _batch(seed=6)
    generator = torch.Generator().manual_seed(7)
    fixed_ids = torch.randint(0, V, labels.shape, generator=generator)
    buggy_ids = torch.randint(0, V, labels.shape, generator=generator)
    labels = torch.where(labels.ne(-100), fixed_ids, labels)
    m_add = torch.zeros_like(labels)
    m_add[0, 4:6] = 1
    m_add[1, 3] = 1
    m_del = torch.zeros_like(labels)
    m_del[0, 5] = 1
    m_del[1, 2:5] = 1
    batch = {"input_ids": fixed_ids, "attention_mask": torch.ones_like(fixed_ids), "labels": labels,
             LINE_MASK: m_add, INCORRECT_IDS: buggy_ids, INCORRECT_ATTENTION: torch.ones_like(buggy_ids),
             INCORRECT_LINE_MASK: m_del}
    model = FixedLogits(fixed_ids, fixed_logits, buggy_logits)
    loss, parts = hotfix_loss(model, batch, HotfixLossConfig(objective=objective, retain=False))
    l_all = _independent_masked_ce(fixed_logits, fixed_ids, labels.ne(-100))
    l_add = _independent_masked_ce(fixed_logits, fixed_ids, m_add)
    l_del = _independent_masked_ce(buggy_logits, buggy_ids, m_del)
    expected = {"learn_all": l_all, "learn_added": l_add, "unlearn_deleted": -l_del,
                "bounded": 0.7 * l_add + 0.3 * l_add / (2 * l_del + 1e-6)}[objective]
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    assert parts["l_add"] == pytest.approx(l_add, rel=1e-5)
    assert float(masked_ce(fixed_logits, fixed_ids, torch.zeros_like(m_add))) == 0.0  # an empty set


def _tiny_lora_model():
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=64)
    base = LlamaForCausalLM(config)
    return get_peft_model(base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"]))


def test_retain_kl_is_zero_at_step_0_and_then_pulls_toward_the_original_model():
    model = _tiny_lora_model()
    ids = torch.randint(0, 32, (2, 9), generator=torch.Generator().manual_seed(0))
    labels = ids.clone()
    labels[:, :3] = -100
    batch = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels,
             LINE_MASK: torch.zeros_like(ids)}
    cfg = HotfixLossConfig(objective="learn_added", retain=True, retain_weight=1.0)  # empty m_add: the KL alone
    loss, parts = hotfix_loss(model, batch, cfg)
    assert parts["retain_kl"] == pytest.approx(0.0, abs=1e-10)  # LoRA starts as the identity
    with torch.no_grad():  # move the weights
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.copy_(torch.randn_like(param))
    loss, parts = hotfix_loss(model, batch, cfg)
    # independent KL from the base model's logits
    with torch.no_grad(), model.disable_adapter():
        original = torch.log_softmax(model(input_ids=ids).logits[:, :-1], -1)
    current = torch.log_softmax(model(input_ids=ids).logits[:, :-1], -1)
    keep = labels[:, 1:].ne(-100)
    expected = (original.exp() * (original - current)).sum(-1)[keep].mean()
    assert parts["retain_kl"] == pytest.approx(float(expected), rel=1e-5) and parts["retain_kl"] > 1e-4
    trainable = [p for p in model.parameters() if p.requires_grad]
    grads = torch.autograd.grad(loss, trainable)
    assert sum(float(g.abs().sum()) for g in grads) > 0  # a gradient (the released code's KL has none)
    with torch.no_grad():  # a small step down that gradient moves the model toward the original
        for param, grad in zip(trainable, grads, strict=True):
            param -= 0.05 * grad
    _, after = hotfix_loss(model, batch, cfg)
    assert after["retain_kl"] < parts["retain_kl"]


def test_retain_kl_against_a_frozen_copy_matches_the_formula():
    logits, labels = _batch(seed=8)
    reference, _ = _batch(seed=9)
    mask = labels.ne(-100)
    expected, n = 0.0, 0
    for b in range(2):
        for t in range(labels.shape[1] - 1):
            if mask[b, t + 1]:
                p_ref, p = _softmax(reference[b, t].tolist()), _softmax(logits[b, t].tolist())
                expected += sum(r * (math.log(r) - math.log(q)) for r, q in zip(p_ref, p, strict=True))
                n += 1
    assert float(retain_kl(logits, reference, mask)) == pytest.approx(expected / n, rel=1e-5)
