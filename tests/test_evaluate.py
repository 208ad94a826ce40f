"""The batched evaluator gives the same per-segment NLL as scoring each segment alone with
the model's own forward pass, on every architecture family."""

import random

import torch

from quant_fairness.data.batches import length_sorted_batches
from quant_fairness.evaluate.score import score_segments


def _reference_nll(model, ids):
    with torch.no_grad():
        x = torch.tensor([ids])
        logp = torch.log_softmax(model(x).logits.float(), dim=-1)[0, :-1]
        return -logp.gather(1, x[0, 1:, None]).sum().item()


def test_batched_scores_equal_one_segment_forward_passes(family_model):
    family, model = family_model
    rng = random.Random(0)
    segments = [[0] + [rng.randrange(1, 320) for _ in range(rng.randrange(1, 40))] for _ in range(12)]
    batched = score_segments(model, segments, batch_tokens=128)
    for ids, value in zip(segments, batched, strict=True):
        assert abs(value - _reference_nll(model, ids)) < 1e-4, family


def test_batches_are_length_sorted_and_within_budget():
    lengths = [5, 40, 12, 40, 3, 33, 7, 19]
    batches = length_sorted_batches(lengths, batch_tokens=80)
    flat = [i for batch in batches for i in batch]
    assert sorted(flat) == list(range(len(lengths)))
    assert [lengths[i] for i in flat] == sorted(lengths, reverse=True)
    for batch in batches:
        assert len(batch) * lengths[batch[0]] <= 80 or len(batch) == 1
