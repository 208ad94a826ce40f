"""Strategies: which weights a quantizer touches, and the storage they then need.

A strategy spec comes from config.yaml's `strategy_specs`:

    seed_absmax_int4: {quantizer: seed_absmax}
    rtn_int4_g128:    {quantizer: rtn, bits: 4, group_size: 128, symmetric: false}
    int8_per_channel: {quantizer: rtn, bits: 8, granularity: channel, symmetric: true}

`seed_absmax` follows the seed protocol: every parameter whose name contains
"weight" (embeddings, tied LM head and norm gains included), biases kept. `rtn`
quantizes the matrix weights of the components in `targets` (default: attention and
MLP of every decoder block), the usual weight-only practice.

    storage = apply_strategy(model, parse_strategy("rtn_int4_g128", spec))
    storage["bits_per_weight"]   # over all parameters; unquantized ones count 16 bits (FP16)
"""

from dataclasses import dataclass

import torch

from quant_fairness.errors import QuantFairnessError
from quant_fairness.layers import COMPONENTS, weight_map
from quant_fairness.quantizers import round_to_nearest, seed_absmax_int4

QUANTIZERS = ("seed_absmax", "rtn")
GRANULARITIES = ("tensor", "channel", "group")
UNQUANTIZED_BITS = 16
BASELINE = "baseline"


@dataclass(frozen=True)
class Strategy:
    name: str
    quantizer: str
    bits: int = 4
    granularity: str = "group"
    group_size: int = 128
    symmetric: bool = True
    targets: tuple = ("attention", "mlp")


def parse_strategy(name, spec):
    """A validated Strategy; one clear line for an unknown kind or bad field."""
    if name == BASELINE:
        raise QuantFairnessError(f"strategy name {BASELINE!r} is reserved for the unquantized reference")
    quantizer = spec.get("quantizer")
    if quantizer not in QUANTIZERS:
        raise QuantFairnessError(f"strategy {name!r}: quantizer {quantizer!r} is not one of {list(QUANTIZERS)}")
    if quantizer == "seed_absmax":
        return Strategy(name, quantizer, bits=4, granularity="tensor", symmetric=True, targets=("seed",))
    bits = spec.get("bits", 4)
    if bits not in (2, 3, 4, 8):
        raise QuantFairnessError(f"strategy {name!r}: bits {bits!r} is not one of [2, 3, 4, 8]")
    granularity = spec.get("granularity", "group")
    if granularity not in GRANULARITIES:
        raise QuantFairnessError(f"strategy {name!r}: granularity {granularity!r} is not one of {list(GRANULARITIES)}")
    targets = tuple(spec.get("targets", ("attention", "mlp")))
    for target in targets:
        if target not in COMPONENTS:
            raise QuantFairnessError(f"strategy {name!r}: target {target!r} is not one of {list(COMPONENTS)}")
    group_size = spec.get("group_size", 128)
    if not isinstance(group_size, int) or group_size < 1:
        raise QuantFairnessError(f"strategy {name!r}: group_size {group_size!r} must be a positive integer")
    return Strategy(name, "rtn", bits, granularity, group_size, bool(spec.get("symmetric", True)), targets)


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
