"""Every quantizer of the suite, through apply_strategy, on every architecture family:
protected weights stay bit-identical, every other targeted weight is quantized, nothing
else moves, storage is counted, and the same run twice gives the same weights."""

import sys

import pytest
import torch
from conftest import needs_package, tiny_model, tiny_tokenizer

from quant_fairness.data.batches import calibration_batches
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import apply_strategy, targeted_weights
from quant_fairness.quantize.calibrated import collect_linear_statistics, gptq_quantize
from quant_fairness.quantize.protection import protection_masks
from quant_fairness.quantize.quantizers import round_to_nearest
from quant_fairness.quantize.strategies import parse_strategy

# Group sizes fit the tiny models' 32- and 64-wide inputs.
SPECS = {
    "rtn": {"quantizer": "rtn", "bits": 3, "group_size": 16, "symmetric": False},
    "awq": {"quantizer": "rtn", "bits": 4, "group_size": 16, "symmetric": False, "awq": True},
    "gptq": {"quantizer": "gptq", "bits": 4, "group_size": 16, "symmetric": True},
    "gguf_q4_0": {"quantizer": "gguf", "format": "Q4_0"},
    "gguf_q8_0": {"quantizer": "gguf", "format": "Q8_0"},
    "bnb_nf4": {"quantizer": "bnb", "format": "nf4"},
    "bnb_int8": {"quantizer": "bnb", "format": "int8"},
    "hqq": {"quantizer": "hqq", "bits": 3, "group_size": 16},
    "quanto_qint4": {"quantizer": "quanto", "format": "qint4", "group_size": 16},
    "mixed": {"quantizer": "rtn", "bits": 4, "group_size": 16, "component_bits": {"mlp": 2}},
}
TEXTS = ["In the beginning God created the heaven and the earth.", "בראשית ברא אלהים", "في البدء خلق الله"]


def _batches():
    rows = [{"id": str(i), "lang": "xx", "text": text} for i, text in enumerate(TEXTS)]
    return calibration_batches(tiny_tokenizer(), rows, 256)


def _quantized(family, spec):
    model = tiny_model(family)
    reference = {name: p.detach().clone() for name, p in model.named_parameters()}
    strategy = parse_strategy("s", spec)
    masks = protection_masks(model, strategy, targeted_weights(model, strategy))
    storage = apply_strategy(model, strategy, calibration_batches=_batches())
    return model, reference, strategy, masks, storage


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_every_quantizer_keeps_protected_weights_and_quantizes_the_rest(family_model, kind):
    family, _ = family_model
    spec = {**SPECS[kind], "protect": {"top_percent": 5}}
    model, reference, strategy, masks, storage = _quantized(family, spec)
    params = dict(model.named_parameters())
    targeted = {weight.name for weight in targeted_weights(model, strategy)}
    for name, param in params.items():
        if name not in targeted:
            assert torch.equal(param, reference[name]), (family, name)
            continue
        mask = masks.get(name, torch.zeros_like(param, dtype=torch.bool))
        assert torch.equal(param[mask], reference[name][mask]), (family, name)
        moved = (param[~mask] != reference[name][~mask]).float().mean()
        assert moved > 0.8, (family, name, float(moved))
    assert storage["protected_parameters"] == sum(int(mask.sum()) for mask in masks.values()) > 0
    assert storage["bits_per_weight"] < 16


@pytest.mark.parametrize("kind", ["gptq", "awq", "hqq", "bnb_nf4", "gguf_q4_0"])
def test_quantizers_are_deterministic(kind):
    first = _quantized("llama", SPECS[kind])[0]
    second = _quantized("llama", SPECS[kind])[0]
    for (name, a), (_, b) in zip(first.named_parameters(), second.named_parameters(), strict=True):
        assert torch.equal(a, b), name


def test_library_storage_is_counted_from_stored_bytes():
    """GGUF Q4_0 stores 18 bytes per 32 weights: 4.5 bits per targeted weight, exactly."""
    _, _, strategy, _, storage = _quantized("llama", SPECS["gguf_q4_0"])
    model = tiny_model("llama")
    targeted = sum(weight.numel for weight in targeted_weights(model, strategy))
    untargeted = storage["parameters"] - targeted
    assert storage["storage_bits"] == targeted * 18 * 8 // 32 + 16 * untargeted


@needs_package("bitsandbytes", "bitsandbytes")
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_llm_int8_runs_bitsandbytes_layers_in_eval_mode(family):
    import bitsandbytes as bnb

    model = tiny_model(family)
    ids = torch.tensor([[1, 5, 9, 30, 2, 7]])
    with torch.no_grad():
        before = model(ids).logits
    storage = apply_strategy(model, parse_strategy("int8", {"quantizer": "bnb", "format": "llm_int8"}))
    layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear8bitLt)]
    assert len(layers) == len(targeted_weights(tiny_model(family), parse_strategy("r", SPECS["rtn"])))
    assert not model.training
    with torch.no_grad():
        after = model(ids).logits
    assert 0 < float((after - before).abs().max()) < 0.05
    assert 8 < storage["bits_per_weight"] < 16


def test_calibrated_quantizers_refuse_to_run_without_calibration_text():
    with pytest.raises(QuantFairnessError, match="needs calibration text"):
        apply_strategy(tiny_model("llama"), parse_strategy("g", SPECS["gptq"]))


def test_a_missing_library_is_named_with_its_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "hqq.core.quantize", None)  # what an uninstalled package looks like
    with pytest.raises(QuantFairnessError) as error:
        apply_strategy(tiny_model("llama"), parse_strategy("h", SPECS["hqq"]))
    assert "pip install hqq" in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("family", ["llama", "opt", "gpt2"])
def test_gptq_of_weights_sharing_an_input_equals_gptq_of_each_alone(family):
    """q/k/v (and gate/up) read one input, so they share one Hessian and are quantized stacked."""
    model = tiny_model(family)
    strategy = parse_strategy("g", SPECS["gptq"])
    names = [weight.name for weight in targeted_weights(model, strategy)]
    statistics = collect_linear_statistics(model, _batches(), names)
    if family == "llama":
        layer = "model.layers.0"
        assert statistics[f"{layer}.self_attn.q_proj.weight"] is statistics[f"{layer}.self_attn.v_proj.weight"]
        assert statistics[f"{layer}.mlp.gate_proj.weight"] is statistics[f"{layer}.mlp.up_proj.weight"]
    alone = {}
    for weight in targeted_weights(model, strategy):
        tensor = dict(model.named_parameters())[weight.name].detach()
        linear = tensor if isinstance(weight.module, torch.nn.Linear) else tensor.t()
        dequantized, _ = gptq_quantize(linear, statistics[weight.name].hessian, 4, 16, True)
        alone[weight.name] = dequantized if isinstance(weight.module, torch.nn.Linear) else dequantized.t()
    apply_strategy(model, strategy, calibration_batches=_batches())
    for name, param in model.named_parameters():
        if name in alone:
            assert torch.allclose(param, alone[name], atol=1e-6), name


def test_conv1d_weights_are_grouped_along_their_input_axis():
    """GPT-2's Conv1D stores (in, out): per-channel scales must follow its columns, not its rows."""
    model = tiny_model("gpt2")
    weight = model.transformer.h[0].mlp.c_fc.weight.detach().clone()  # (32 in, 128 out)
    apply_strategy(model, parse_strategy("r", {"quantizer": "rtn", "bits": 3, "granularity": "channel"}))
    expected, _ = round_to_nearest(weight.t(), 3, group_size=None)
    assert torch.equal(model.transformer.h[0].mlp.c_fc.weight, expected.t())
    assert not torch.equal(model.transformer.h[0].mlp.c_fc.weight, round_to_nearest(weight, 3)[0])
