"""Strategies: which quantizer, at what precision, on which weights (specs only, no torch).

A strategy spec comes from config.yaml's `strategy_specs`:

    seed_absmax_int4: {quantizer: seed_absmax}
    rtn_int4_g128:    {quantizer: rtn, bits: 4, group_size: 128, symmetric: false}
    int8_per_channel: {quantizer: rtn, bits: 8, granularity: channel, symmetric: true}

`seed_absmax` follows the seed protocol: every parameter whose name contains
"weight" (embeddings, tied LM head and norm gains included), biases kept. `rtn`
quantizes the matrix weights of the components in `targets` (default: attention and
MLP of every decoder block), the usual weight-only practice.

    strategy = parse_strategy("rtn_int4_g128", spec)   # then quant_fairness.quantize.apply_strategy
"""

from dataclasses import dataclass

from quant_fairness.errors import QuantFairnessError

QUANTIZERS = ("seed_absmax", "rtn")
GRANULARITIES = ("tensor", "channel", "group")
BASELINE = "baseline"
# Where a weight lives in a causal LM (quant_fairness.layers classifies every parameter).
COMPONENTS = ("embedding", "position_embedding", "attention", "mlp", "norm", "lm_head", "other")


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
