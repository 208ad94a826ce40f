"""Quantize a model in place by a strategy, and account its storage exactly.

storage = apply_strategy(model, parse_strategy("rtn_int4_g128", spec))
storage["bits_per_weight"]   # over all parameters; unquantized ones count 16 bits (FP16)
"""

import torch

from quant_fairness.errors import QuantFairnessError
from quant_fairness.layers import weight_map
from quant_fairness.quantizers import round_to_nearest, seed_absmax_int4

UNQUANTIZED_BITS = 16


def _targeted(strategy, weight):
    if strategy.quantizer == "seed_absmax":
        return "weight" in weight.name
    return weight.component in strategy.targets and weight.is_matrix_weight


def _quantize(strategy, weight, tensor):
    if strategy.quantizer == "seed_absmax":
        return seed_absmax_int4(tensor)
    # GPT-2's Conv1D stores (in, out); nn.Linear stores (out, in).
    input_axis = 0 if type(weight.module).__name__ == "Conv1D" else 1
    return round_to_nearest(
        tensor,
        strategy.bits,
        group_size=strategy.group_size if strategy.granularity == "group" else None,
        symmetric=strategy.symmetric,
        per_tensor=strategy.granularity == "tensor",
        input_axis=input_axis,
    )


@torch.no_grad()
def apply_strategy(model, strategy):
    """Quantize `model` in place; return its exact storage accounting."""
    params = dict(model.named_parameters())
    total = quantized = 0
    storage_bits = 0
    tensors = 0
    for weight in weight_map(model):
        total += weight.numel
        if not _targeted(strategy, weight):
            storage_bits += UNQUANTIZED_BITS * weight.numel
            continue
        param = params[weight.name]
        dequantized, bits = _quantize(strategy, weight, param.data)
        param.data.copy_(dequantized)
        storage_bits += bits
        quantized += weight.numel
        tensors += 1
    if tensors == 0:
        raise QuantFairnessError(f"strategy {strategy.name!r} quantizes no weight of {type(model).__name__}")
    return {
        "strategy": strategy.name,
        "parameters": total,
        "quantized_parameters": quantized,
        "quantized_tensors": tensors,
        "storage_bits": storage_bits,
        "bits_per_weight": storage_bits / total,
    }
