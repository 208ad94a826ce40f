"""Strategies quantize exactly their targets on every architecture family, leave the rest
bit-identical, account storage, and refuse bad specs in one line."""

import pytest
import torch

from quant_fairness.data.layers import weight_map
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import UNQUANTIZED_BITS, apply_strategy
from quant_fairness.quantize.strategies import parse_strategy

RTN = {"quantizer": "rtn", "bits": 4, "granularity": "group", "group_size": 16, "symmetric": False}


def _snapshot(model):
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def test_rtn_changes_block_matrices_only(family_model):
    family, model = family_model
    before = _snapshot(model)
    storage = apply_strategy(model, parse_strategy("rtn", RTN))
    after = dict(model.named_parameters())
    quantized = 0
    for w in weight_map(model):
        changed = not torch.equal(before[w.name], after[w.name])
        targeted = w.is_matrix_weight and w.component in ("attention", "mlp")
        assert changed == targeted, (family, w.name)
        quantized += w.numel if targeted else 0
    assert storage["quantized_parameters"] == quantized
    assert storage["bits_per_weight"] < UNQUANTIZED_BITS


def test_seed_absmax_quantizes_every_weight_but_no_bias(family_model):
    family, model = family_model
    before = _snapshot(model)
    storage = apply_strategy(model, parse_strategy("seed", {"quantizer": "seed_absmax"}))
    for name, param in model.named_parameters():
        if "weight" not in name:
            assert torch.equal(before[name], param), name
        elif before[name].abs().max() > 0 and before[name].unique().numel() > 16:
            assert not torch.equal(before[name], param), name
    weights = sum(p.numel() for n, p in model.named_parameters() if "weight" in n)
    assert storage["quantized_parameters"] == weights


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"quantizer": "gptq9"}, "quantizer 'gptq9'"),
        ({"quantizer": "rtn", "bits": 5}, "bits 5"),
        ({"quantizer": "rtn", "granularity": "row"}, "granularity 'row'"),
        ({"quantizer": "rtn", "targets": ["attn"]}, "target 'attn'"),
        ({"quantizer": "rtn", "group_size": 0}, "group_size 0"),
    ],
)
def test_bad_strategy_spec_is_one_clear_line(spec, fragment):
    with pytest.raises(QuantFairnessError) as error:
        parse_strategy("bad", spec)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_baseline_is_not_a_strategy_name():
    with pytest.raises(QuantFairnessError, match="reserved"):
        parse_strategy("baseline", {"quantizer": "rtn"})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        (
            {"quantizer": "seed_absmax", "targets": ["attention"]},
            "key 'targets' does not apply to quantizer 'seed_absmax'",
        ),
        ({"quantizer": "rtn", "symmetric": "false"}, "symmetric 'false' must be true or false"),
        ({"quantizer": "rtn", "targets": "attention"}, "targets 'attention' must be a list"),
        ({"quantizer": "rtn", "awq": True, "granularity": "tensor"}, "AWQ scales per input channel"),
        ({"quantizer": "gptq", "granularity": "tensor"}, "GPTQ quantizes per channel or per group"),
        ({"quantizer": "seed_absmax", "protect": {"depths": 0.5}}, "protect.depths 0.5 must be a list"),
        ({"quantizer": "seed_absmax", "protect": {"components": "attention"}}, "must be a list"),
        ({"quantizer": "bnb", "format": "llm_int8", "protect": {"top_percent": 1}}, "cannot keep individual"),
        ({"quantizer": "hqq", "bits": 2}, "bits 2 is not one of [4, 3]"),
        ({"quantizer": "gguf"}, "needs a format"),
        ({"quantizer": "rtn", "component_bits": {"norm": 8}}, "component_bits component 'norm'"),
    ],
)
def test_more_bad_specs_are_one_clear_line(spec, fragment):
    with pytest.raises(QuantFairnessError) as error:
        parse_strategy("bad", spec)
    assert fragment in str(error.value) and "\n" not in str(error.value)
