"""Quantize a model in place by a strategy, and account its storage exactly.

    storage = apply_strategy(model, parse_strategy("rtn_int4_g128", spec))
    storage["bits_per_weight"]     # over all parameters; unquantized ones count 16 bits (FP16)

Every targeted weight is quantized and dequantized back into the model (weight-only
formats compute in float exactly as the library's own dequantize-then-matmul kernels
do), then the protected entries are restored bit for bit from the reference. A
partially protected tensor costs its quantized codes plus the patch: FP16 values and
the index of the kept weights; a fully protected tensor costs FP16 only. LLM.int8()
quantizes activations too, so it runs as bitsandbytes' own modules instead.
"""

import torch
from torch import nn

from quant_fairness import backends
from quant_fairness.calibrated import awq_quantize, collect_linear_statistics, gptq_quantize
from quant_fairness.errors import QuantFairnessError
from quant_fairness.layers import weight_map
from quant_fairness.protection import FP16_BITS, patch_bits, protection_masks
from quant_fairness.quantizers import round_to_nearest, seed_absmax_int4

UNQUANTIZED_BITS = FP16_BITS


def targeted_weights(model, strategy):
    """The weights `strategy` quantizes, in model order."""
    if strategy.quantizer == "seed_absmax":
        return [weight for weight in weight_map(model) if "weight" in weight.name]
    return [w for w in weight_map(model) if w.component in strategy.targets and w.is_matrix_weight]


def _grid(strategy):
    group_size = strategy.group_size if strategy.granularity == "group" else None
    return group_size, strategy.granularity == "tensor"


def _quantize_linear(strategy, weight, linear, statistics):
    """Quantize a weight in nn.Linear layout (out, in); returns (dequantized, storage bits)."""
    bits = strategy.bits_for(weight.component)
    group_size, per_tensor = _grid(strategy)
    kind = strategy.quantizer
    if kind == "rtn" and strategy.awq:
        return awq_quantize(linear, statistics[weight.name], bits, group_size, strategy.symmetric)
    if kind == "rtn":
        return round_to_nearest(linear, bits, group_size, strategy.symmetric, per_tensor)
    if kind == "gptq":
        return gptq_quantize(linear, statistics[weight.name].hessian, bits, group_size, strategy.symmetric)
    if kind == "gguf":
        return backends.gguf_quantize(linear, strategy.format)
    if kind == "bnb" and strategy.format == "int8":
        return backends.bnb_int8_weight_only(linear)
    if kind == "bnb" and strategy.format == "nf4_double":
        return backends.bnb_4bit(linear, "nf4", double_quant=True)
    if kind == "bnb":
        return backends.bnb_4bit(linear, strategy.format)
    if kind == "hqq":
        return backends.hqq_quantize(linear, bits, strategy.group_size)
    return backends.quanto_quantize(linear, strategy.format, strategy.group_size)


def _quantize(strategy, weight, tensor, statistics):
    if strategy.quantizer == "seed_absmax":
        return seed_absmax_int4(tensor)
    # GPT-2's Conv1D stores (in, out); every quantizer works on nn.Linear's (out, in).
    conv1d = not isinstance(weight.module, nn.Linear)
    dequantized, bits = _quantize_linear(strategy, weight, tensor.t() if conv1d else tensor, statistics)
    return (dequantized.t() if conv1d else dequantized), bits


def _calibration_statistics(model, strategy, targeted, calibration_batches):
    if not strategy.needs_calibration:
        return None
    if not calibration_batches:
        raise QuantFairnessError(f"strategy {strategy.name!r} needs calibration text and none was given")
    names = [weight.name for weight in targeted]
    return collect_linear_statistics(model, calibration_batches, names, hessian=strategy.quantizer == "gptq")


def _account(model, storage_of, protected_of):
    """Storage totals over all parameters and per component."""
    components = {}
    totals = {"parameters": 0, "quantized_parameters": 0, "protected_parameters": 0, "storage_bits": 0}
    for weight in weight_map(model):
        bits = storage_of.get(weight.name, UNQUANTIZED_BITS * weight.numel)
        row = components.setdefault(weight.component, {"parameters": 0, "storage_bits": 0})
        row["parameters"] += weight.numel
        row["storage_bits"] += bits
        totals["parameters"] += weight.numel
        totals["storage_bits"] += bits
        totals["quantized_parameters"] += weight.numel if weight.name in storage_of else 0
        totals["protected_parameters"] += protected_of.get(weight.name, 0)
    return {**totals, "bits_per_weight": totals["storage_bits"] / totals["parameters"], "components": components}


@torch.no_grad()
def apply_strategy(model, strategy, salience_indices=None, calibration_batches=None):
    """Quantize `model` in place; return its exact storage accounting.

    `salience_indices` ({name: flat indices}) comes from the salience_mask rule;
    `calibration_batches` ([(input_ids, attention_mask)]) feed GPTQ and AWQ.
    """
    targeted = targeted_weights(model, strategy)
    if not targeted:
        raise QuantFairnessError(f"strategy {strategy.name!r} quantizes no weight of {type(model).__name__}")
    if strategy.format == "llm_int8":
        storage_of = backends.use_llm_int8(model, [weight.name for weight in targeted], strategy.threshold)
        return {"strategy": strategy.name, **_account(model, storage_of, {})}
    masks = protection_masks(model, strategy, targeted, salience_indices)
    statistics = _calibration_statistics(model, strategy, targeted, calibration_batches)
    params = dict(model.named_parameters())
    storage_of, protected_of = {}, {}
    for weight in targeted:
        param = params[weight.name]
        mask = masks.get(weight.name)
        if mask is not None and bool(mask.all()):
            protected_of[weight.name] = weight.numel
            continue
        dequantized, bits = _quantize(strategy, weight, param.data, statistics)
        if mask is not None:
            dequantized[mask] = param.data[mask]
            bits += patch_bits(mask)
            protected_of[weight.name] = int(mask.sum())
        param.data.copy_(dequantized)
        storage_of[weight.name] = bits
    return {"strategy": strategy.name, **_account(model, storage_of, protected_of)}
