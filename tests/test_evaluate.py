"""The batched evaluator gives the same per-segment NLL as scoring each segment alone with
the model's own forward pass, on every architecture family."""

import random

import pytest
import torch
from conftest import tiny_model, tiny_tokenizer

from quant_fairness.data.batches import length_sorted_batches, tokenize_segments
from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.score import TokenizedSplit, score_segments


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


def _tokenizer_adding_its_own_bos():
    """A Llama-style tokenizer that puts <s> before every text itself (add_bos_token=True)."""
    from tokenizers import processors

    tokenizer = tiny_tokenizer()
    bos = tokenizer.convert_tokens_to_ids("<s>")
    tokenizer.backend_tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", bos)]
    )
    tokenizer.add_bos_token = True
    return tokenizer, bos


def test_a_tokenizer_that_adds_its_own_bos_is_scored_after_exactly_one_start_token():
    tokenizer, bos = _tokenizer_adding_its_own_bos()
    texts = ["In the beginning God created", "the earth"]
    assert all(ids[0] == bos for ids in tokenizer(texts)["input_ids"])  # it does add one itself
    token_ids = tokenize_segments(tokenizer, texts)
    for text, ids in zip(texts, token_ids, strict=True):
        plain = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert ids == [bos, *plain] and bos not in plain
    model = tiny_model("llama")
    rows = [{"lang": "en", "id": str(k), "text": text} for k, text in enumerate(texts)]
    scored = TokenizedSplit(model, tokenizer, rows).score(model)
    # Every token of the text is predicted once, and nothing else: no second BOS is scored.
    assert [row["tokens"] for row in scored] == [
        len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts
    ]
    assert [row["nll"] for row in scored] == pytest.approx([_reference_nll(model, ids) for ids in token_ids], abs=1e-4)


def test_a_non_finite_nll_stops_scoring_in_one_line_naming_the_segment():
    model = tiny_model("llama")
    rows = [{"lang": "he", "id": "01.001.001", "text": "In the beginning"}]
    split = TokenizedSplit(model, tiny_tokenizer(), rows)
    with torch.no_grad():
        model.model.layers[0].mlp.down_proj.weight[0, 0] = float("nan")
    with pytest.raises(
        QuantFairnessError, match=r"model 'm', strategy 'broken': the NLL of segment he/01.001.001 is nan"
    ):
        split.score(model, "model 'm', strategy 'broken'")
