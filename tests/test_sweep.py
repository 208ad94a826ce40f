"""The layer sweep: prefix reuse gives the naive sweep's numbers, blocks are chosen on the
selection split only, and the model comes back unchanged."""

import json
import math

import numpy as np
import pytest
import torch
from conftest import TINY_CONFIGS, split_rows, tiny_model, tiny_tokenizer, trained_tiny_model

from quant_fairness import quick_sweep, simulate_int4
from quant_fairness.data.batches import padded_batches
from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.block_switch import BlockSwitch
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.evaluate.sweep import candidate_scores, passes, sweep, sweep_tables
from quant_fairness.quantize.apply import apply_strategy
from quant_fairness.quantize.strategies import parse_strategy

SEED = parse_strategy("seed_absmax_int4", {"quantizer": "seed_absmax"})
RTN = parse_strategy("rtn_int4_g16", {"quantizer": "rtn", "bits": 4, "group_size": 16})
GROUPS = {"high": ["en"], "low": ["he", "ar"]}


def nll(rows):
    return [row["nll"] for row in rows]


@pytest.mark.parametrize("family", sorted(TINY_CONFIGS))
@pytest.mark.parametrize("base", [(), (1,)])
def test_prefix_reuse_gives_the_naive_sweep_numbers_on_every_family(family, base):
    model = tiny_model(family)
    split = TokenizedSplit(model, tiny_tokenizer(), split_rows(), batch_tokens=40)
    assert len(list(padded_batches(split.token_ids, 40))) > 1, "several batches: the cache must follow their order"
    switch = BlockSwitch(model, SEED)
    fast = candidate_scores(switch, split, base, range(3), reuse_prefix=True)
    naive = candidate_scores(switch, split, base, range(3), reuse_prefix=False)
    assert sorted(fast) == sorted(set(range(3)) - set(base))
    for block in fast:
        assert nll(fast[block]) == nll(naive[block])
    first, *others = sorted(fast)
    assert any(nll(fast[first]) != nll(fast[other]) for other in others), "candidates must differ"


@pytest.mark.parametrize("family", ["gpt2", "gemma3"])
def test_a_protected_block_equals_the_strategy_that_protects_that_layer(family):
    tokenizer = tiny_tokenizer()
    model = tiny_model(family)
    split = TokenizedSplit(model, tokenizer, split_rows(), batch_tokens=64)
    switch = BlockSwitch(model, RTN)
    switch.protect({0, 2})
    reference = tiny_model(family)
    spec = {"quantizer": "rtn", "bits": 4, "group_size": 16, "protect": {"layers": [0, 2]}}
    apply_strategy(reference, parse_strategy("layers", spec))
    assert nll(split.score(model)) == nll(split.score(reference))


def test_restore_puts_back_every_original_weight():
    model, fresh = tiny_model("llama"), tiny_model("llama")
    switch = BlockSwitch(model, SEED)
    switch.protect({1})
    assert not torch.equal(model.lm_head.weight, fresh.lm_head.weight)
    switch.restore()
    for (name, param), (_, original) in zip(model.named_parameters(), fresh.named_parameters(), strict=True):
        assert torch.equal(param, original), name


def run_sweep(model, test_rows, max_layers=2, **options):
    return sweep(model, tiny_tokenizer(), split_rows(), test_rows, SEED, GROUPS, max_layers=max_layers, **options)


def test_sweep_chooses_on_selection_and_measures_on_test():
    result = run_sweep(trained_tiny_model("llama"), split_rows(offset=1), resamples=50)
    values = [row["robust_disparity"] for row in result.single]
    assert values == sorted(values)
    assert len(result.chosen) == 2 and result.single[0]["layer"] in result.chosen
    assert result.steps[0]["layers"] == (result.single[0]["layer"],)
    assert result.steps[-1]["layers"] == result.chosen
    strategies = {row["strategy"] for row in result.test}
    assert strategies == {"seed_absmax_int4", "seed_absmax_int4+L" + ",".join(map(str, result.chosen))}
    assert {row["metric"] for row in result.test if row["scope"] == "disparity"} >= {"robust_disparity"}
    assert result.difference["metric"] == "robust_disparity"
    # The same selection text with other test text chooses the same blocks.
    other = run_sweep(trained_tiny_model("llama"), split_rows(offset=2), resamples=50)
    assert other.chosen == result.chosen
    # A block whose high-group loss falls within the noise floor has an undefined (NaN) disparity,
    # which == never equals; assert_equal counts NaN in the same place as equal.
    np.testing.assert_equal(other.single, result.single)
    assert other.test != result.test


def test_sweep_leaves_the_model_unchanged_and_is_deterministic():
    model, fresh = trained_tiny_model("gpt2"), trained_tiny_model("gpt2")
    first = run_sweep(model, split_rows(), resamples=20)
    for (name, param), (_, original) in zip(model.named_parameters(), fresh.named_parameters(), strict=True):
        assert torch.equal(param, original), name
    assert run_sweep(model, split_rows(), resamples=20) == first


def test_candidates_limit_the_greedy_pool_and_passes_count_scorings():
    calls = []
    model = trained_tiny_model("opt")
    result = run_sweep(model, split_rows(), max_layers=3, candidates=2, progress=lambda: calls.append(1))
    # The pool of the best 2 single blocks runs out after one extension.
    assert result.chosen == tuple(sorted(row["layer"] for row in result.single[:2]))
    assert len(calls) == passes(3, 3, 2)
    assert passes(30, 3) == 30 + 29 + 28 + 4


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_layers": 0}, "max_layers 0 must be at least 1"),
        ({"groups": {"high": ["en"], "low": ["sw"]}}, "language 'sw'"),
    ],
)
def test_sweep_refuses_bad_options_in_one_line(options, message):
    arguments = {"max_layers": 2, "groups": GROUPS} | options
    with pytest.raises(QuantFairnessError, match=message) as error:
        sweep(tiny_model("llama"), tiny_tokenizer(), split_rows(), split_rows(), SEED, **arguments)
    assert "\n" not in str(error.value)


def test_a_model_quantization_does_not_hurt_gets_no_block_and_says_why():
    # A random tiny model: quantizing it lowers English's loss, so every ratio is undefined.
    result = run_sweep(tiny_model("llama"), split_rows(), resamples=20)
    assert result.chosen == () and result.steps == [] and result.difference is None
    assert all(np.isnan(row["robust_disparity"]) for row in result.single)
    assert "undefined for every candidate" in result.note
    assert {row["strategy"] for row in result.test} == {"seed_absmax_int4"}
    assert set(sweep_tables("tiny", result)) == {"single", "steps", "test"}


def test_empty_split_is_refused():
    with pytest.raises(QuantFairnessError, match="no segments to score"):
        TokenizedSplit(tiny_model("llama"), tiny_tokenizer(), [], 64)


def test_seed_api_simulate_int4_and_quick_sweep(tmp_path):
    model = tiny_model("llama")
    storage = simulate_int4(model, protect_layers={-1})
    reference = tiny_model("llama")
    assert torch.equal(model.model.layers[2].mlp.up_proj.weight, reference.model.layers[2].mlp.up_proj.weight)
    assert not torch.equal(model.model.layers[0].mlp.up_proj.weight, reference.model.layers[0].mlp.up_proj.weight)
    assert math.isclose(storage["protected_parameters"], sum(p.numel() for p in reference.model.layers[2].parameters()))
    selection = tmp_path / "selection.jsonl"
    selection.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in split_rows()))
    fresh, untouched = trained_tiny_model("llama"), trained_tiny_model("llama")
    layers = quick_sweep(fresh, tiny_tokenizer(), top_n=2, selection=selection, groups=GROUPS, segments=3)
    assert len(layers) == 2 and all(0 <= layer < 3 for layer in layers)
    assert torch.equal(fresh.lm_head.weight, untouched.lm_head.weight)
