"""KL divergence from the unquantized reference and top-1 agreement, per segment: exact over the
full vocabulary (checked against a direct two-model computation on every architecture family),
zero for a model against itself, never negative, and the same on every run."""

import copy

import pytest
import torch
from conftest import TINY_CONFIGS, split_rows, tiny_model, tiny_tokenizer

from quant_fairness.data.batches import head_logits, padded_batches, predicted_positions
from quant_fairness.evaluate.divergence import Reference, ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.apply import apply_strategy
from quant_fairness.quantize.strategies import parse_strategy

# rtn leaves the LM head alone (the exact shortcut); the seed's INT4 quantizes it (the full-vocabulary path).
STRATEGIES = {
    "rtn": {"quantizer": "rtn", "bits": 2, "group_size": 16},
    "seed": {"quantizer": "seed_absmax"},
}


ROUNDING = 1e-6  # nats per position: float32 rounding of logits of magnitude ~10


def _direct(reference, quantized, token_ids, batch_tokens=None):
    """Per segment Σ_t KL(p_t ‖ q_t) and top-1 agreements from both models' full logits, in float64:
    each segment through both models alone, or (batch_tokens) in the same padded batches as the
    scorer, so that only the divergence's own arithmetic differs."""
    kl, agree = [0.0] * len(token_ids), [0] * len(token_ids)
    batches = (
        [([k], torch.tensor([ids]), torch.ones(1, len(ids), dtype=torch.long)) for k, ids in enumerate(token_ids)]
        if batch_tokens is None
        else padded_batches(token_ids, batch_tokens)
    )
    with torch.no_grad():
        for batch, input_ids, attention in batches:
            logits = []
            for model in (reference, quantized):
                hidden, _, rows = predicted_positions(model, input_ids, attention)
                logits.append(torch.cat([chunk for _, chunk in head_logits(model, hidden)]).double())
            log_p, log_q = (torch.log_softmax(values, dim=-1) for values in logits)
            per_position = (log_p.exp() * (log_p - log_q)).sum(-1)
            same = log_p.argmax(-1) == log_q.argmax(-1)
            for position, row in enumerate(rows.tolist()):
                kl[batch[row]] += float(per_position[position])
                agree[batch[row]] += int(same[position])
    return kl, agree


def _compared(family, spec):
    original = tiny_model(family)
    split = TokenizedSplit(original, tiny_tokenizer(), split_rows(), batch_tokens=64)
    _, reference = split.record(original)
    quantized = copy.deepcopy(original)
    apply_strategy(quantized, parse_strategy("q", spec))
    return original, quantized, split, split.score(quantized, reference=reference, head=ReferenceHead.of(original))


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
@pytest.mark.parametrize("family", sorted(TINY_CONFIGS))
def test_divergence_equals_a_direct_two_model_computation(family, kind):
    original, quantized, split, rows = _compared(family, STRATEGIES[kind])
    measured = [row["kl_divergence"] for row in rows]
    kl, agree = _direct(original, quantized, split.token_ids, batch_tokens=64)
    # The direct sum takes the models' float32 logits as they are; the scorer's arithmetic rounds
    # differently (float32 logits of about ±10 carry ~1e-6 nats): they agree to that, per position.
    for row, ours, direct in zip(rows, measured, kl, strict=True):
        assert abs(ours - direct) <= ROUNDING * row["tokens"] + 1e-4 * direct
    assert [row["top1_agreement"] for row in rows] == agree
    assert all(value > 0 for value in measured)  # quantizing moved every distribution
    # One segment per pass instead: the hidden states themselves differ by float32 rounding.
    alone, _ = _direct(original, quantized, split.token_ids)
    for row, ours, direct in zip(rows, measured, alone, strict=True):
        assert abs(ours - direct) <= 2 * ROUNDING * row["tokens"] + 1e-3 * direct


@pytest.mark.parametrize("family", sorted(TINY_CONFIGS))
def test_a_model_against_itself_diverges_by_exactly_zero_and_always_agrees(family):
    model = tiny_model(family)
    split = TokenizedSplit(model, tiny_tokenizer(), split_rows(), batch_tokens=64)
    scored, reference = split.record(model)
    rows = split.score(model, reference=reference, head=ReferenceHead.of(model))
    assert [row["kl_divergence"] for row in rows] == [0.0] * len(rows)
    assert [row["top1_agreement"] for row in rows] == [row["tokens"] for row in rows]
    assert [row["nll"] for row in rows] == [row["nll"] for row in scored]  # recording does not change the NLL
    assert [row["nll"] for row in rows] == [row["nll"] for row in split.score(model)]


def test_divergence_is_never_negative_and_deterministic(tmp_path):
    _, quantized, split, rows = _compared("llama", STRATEGIES["rtn"])
    assert all(row["kl_divergence"] >= 0 for row in rows)
    _, _, _, again = _compared("llama", STRATEGIES["rtn"])
    assert again == rows


def test_the_reference_file_round_trips_and_serves_any_subset_of_segments(tmp_path):
    original = tiny_model("gpt2")
    rows = split_rows()
    split = TokenizedSplit(original, tiny_tokenizer(), rows, batch_tokens=64)
    _, reference = split.record(original)
    reference.write(tmp_path / "reference.safetensors", "tiny")
    first = (tmp_path / "reference.safetensors").read_bytes()
    reference.write(tmp_path / "again.safetensors", "tiny")
    assert (tmp_path / "again.safetensors").read_bytes() == first
    loaded = Reference.read(tmp_path / "reference.safetensors")
    quantized = copy.deepcopy(original)
    apply_strategy(quantized, parse_strategy("q", STRATEGIES["rtn"]))
    whole = split.score(quantized, reference=loaded, head=ReferenceHead.of(original))
    # One language alone, as a model calibrated on that language scores it.
    hebrew = [row for row in rows if row["lang"] == "he"]
    alone = TokenizedSplit(original, tiny_tokenizer(), hebrew).score(
        quantized, reference=loaded, head=ReferenceHead.of(original)
    )
    assert [row["kl_divergence"] for row in alone] == pytest.approx(
        [row["kl_divergence"] for row in whole if row["lang"] == "he"], rel=1e-4
    )
