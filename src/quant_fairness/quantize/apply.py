"""Quantize a model in place by a strategy, and account its storage exactly.

    storage = apply_strategy(model, parse_strategy("rtn_int4_g128", spec))
    storage["bits_per_weight"]     # over all parameters; unquantized ones count 16 bits (FP16)
    storage, seconds = quantize_model(model, tokenizer, strategy, calibration_rows=rows)   # GPTQ/AWQ read rows

Every targeted weight is quantized and dequantized back into the model (weight-only
formats compute in float exactly as the library's own dequantize-then-matmul kernels
do), then the protected entries are restored bit for bit from the reference. A
partially protected tensor costs its quantized codes plus the patch: FP16 values and
the index of the kept weights; a fully protected tensor costs FP16 only. LLM.int8()
quantizes activations too, so it runs as bitsandbytes' own modules instead.
"""

import math
import time

import torch
from torch import nn

from quant_fairness.data.batches import input_batches
from quant_fairness.data.layers import weight_map
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize import backends
from quant_fairness.quantize.calibrated import (
    awq_quantize,
    collect_linear_statistics,
    gptq_quantize_many,
    sweep_batches,
)
from quant_fairness.quantize.calibration import calibration_token_ids
from quant_fairness.quantize.protection import FP16_BITS, patch_bits, protection_masks
from quant_fairness.quantize.quantizers import round_to_nearest, seed_absmax_int4

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


def linear_layout(weight, tensor):
    """A weight-shaped tensor in nn.Linear's (out, in) layout, and back: GPT-2's Conv1D stores (in, out)."""
    return tensor if isinstance(weight.module, nn.Linear) else tensor.t()


def _quantize(strategy, weight, tensor, statistics):
    if strategy.quantizer == "seed_absmax":
        return seed_absmax_int4(tensor)
    dequantized, bits = _quantize_linear(strategy, weight, linear_layout(weight, tensor), statistics)
    return linear_layout(weight, dequantized), bits


def _gptq_stacked(strategy, weights, params, statistics, masks):
    """GPTQ of the weights that read the same input (q/k/v, gate/up) as one stacked matrix.

    GPTQ treats rows independently given the input Hessian, so this equals quantizing
    each weight alone, with one column sweep instead of several; stacks of one shape then
    sweep together (gptq_quantize_many). Returns {name: (dequantized, bits)}.
    """
    group_size, _ = _grid(strategy)
    grouped = {}
    for weight in weights:
        key = (id(statistics[weight.name]), strategy.bits_for(weight.component))
        grouped.setdefault(key, []).append(weight)
    stacks = [(bits, members, _stacked_rows(members, params)) for (_, bits), members in grouped.items()]
    shapes = [(sum(rows), _inputs(members[0], params)) for _, members, rows in stacks]
    kinds = [(bits, shape) for (bits, _, _), shape in zip(stacks, shapes, strict=True)]
    results = {}
    for batch in sweep_batches(kinds, [math.prod(shape) for shape in shapes]):
        bits = stacks[batch[0]][0]
        stacked = [torch.cat([linear_layout(w, params[w.name].data) for w in stacks[k][1]]) for k in batch]
        hessians = [statistics[stacks[k][1][0].name].hessian for k in batch]
        keeps = [_stacked_keep(stacks[k][1], params, masks) for k in batch]
        quantized = gptq_quantize_many(stacked, hessians, bits, group_size, strategy.symmetric, keeps=keeps)
        for k, (dequantized, stacked_bits) in zip(batch, quantized, strict=True):
            _, members, rows = stacks[k]
            for weight, piece in zip(members, dequantized.split(rows), strict=True):
                # Storage is linear in the row count (codes, then scale and zero per row and group).
                results[weight.name] = linear_layout(weight, piece), stacked_bits * piece.shape[0] // sum(rows)
    return results


def _stacked_rows(members, params):
    """Rows of each weight of a stack in nn.Linear layout, in stacking order."""
    return [linear_layout(w, params[w.name]).shape[0] for w in members]


def _inputs(weight, params):
    """Input features of a weight: its columns in nn.Linear layout."""
    return linear_layout(weight, params[weight.name]).shape[1]


def _stacked_keep(members, params, masks):
    """The protection mask of a stack (None when no member has one), on the CPU as the masks are
    (protection.py) and as GPTQ sweeps its columns."""
    if not any(w.name in masks for w in members):
        return None
    return torch.cat(
        [
            linear_layout(w, masks[w.name] if w.name in masks else torch.zeros(params[w.name].shape, dtype=torch.bool))
            for w in members
        ]
    )


def _calibration_statistics(model, strategy, targeted, calibration_batches):
    if not strategy.needs_calibration:
        return None
    if not calibration_batches:
        raise QuantFairnessError(f"strategy {strategy.name!r} needs calibration text and none was given")
    names = [weight.name for weight in targeted]
    return collect_linear_statistics(model, calibration_batches, names, hessian=strategy.quantizer == "gptq")


def _account(model, targeted, storage_of, protected_of):
    """Storage totals over all parameters and per component.

    targeted: weights the strategy covers; quantized: those not kept whole in FP16.
    """
    components = {}
    totals = {
        "parameters": 0,
        "targeted_parameters": 0,
        "quantized_parameters": 0,
        "protected_parameters": 0,
        "storage_bits": 0,
    }
    for weight in weight_map(model):
        bits = storage_of.get(weight.name, UNQUANTIZED_BITS * weight.numel)
        row = components.setdefault(weight.component, {"parameters": 0, "storage_bits": 0})
        row["parameters"] += weight.numel
        row["storage_bits"] += bits
        totals["parameters"] += weight.numel
        totals["storage_bits"] += bits
        totals["targeted_parameters"] += weight.numel if weight.name in targeted else 0
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
        return {"strategy": strategy.name, **_account(model, set(storage_of), storage_of, {})}
    masks = protection_masks(model, strategy, targeted, salience_indices)
    params = dict(model.named_parameters())
    storage_of, protected_of = {}, {}
    fully_protected = {name for name, mask in masks.items() if bool(mask.all())}
    to_quantize = [weight for weight in targeted if weight.name not in fully_protected]
    statistics = _calibration_statistics(model, strategy, to_quantize, calibration_batches)
    precomputed = {}
    if strategy.quantizer == "gptq":
        precomputed = _gptq_stacked(strategy, to_quantize, params, statistics, masks)
    for weight in targeted:
        param = params[weight.name]
        mask = masks.get(weight.name)
        if weight.name in fully_protected:
            protected_of[weight.name] = weight.numel
            continue
        if weight.name in precomputed:
            dequantized, bits = precomputed[weight.name]
        else:
            dequantized, bits = _quantize(strategy, weight, param.data, statistics)
        if mask is not None:
            dequantized[mask] = param.data[mask]
            bits += patch_bits(mask)
            protected_of[weight.name] = int(mask.sum())
        param.data.copy_(dequantized)
        storage_of[weight.name] = bits
    names = {weight.name for weight in targeted}
    return {"strategy": strategy.name, **_account(model, names, storage_of, protected_of)}


def quantize_model(
    model, tokenizer, strategy, salience_indices=None, calibration_rows=None, batch_tokens=1024, languages=None
):
    """Quantize `model` in place by `strategy`; returns (storage accounting, seconds spent). GPTQ and
    AWQ read `strategy.calibration_tokens` tokens of `calibration_rows` ({id, lang, text}), split
    equally over `languages` (default: every language of the rows, in their order)."""
    started = time.perf_counter()
    batches = None
    if strategy.needs_calibration and calibration_rows:
        if languages is None:
            languages = list(dict.fromkeys(row["lang"] for row in calibration_rows))
        if not languages:
            raise QuantFairnessError(f"strategy {strategy.name!r}: its calibration languages select no text")
        token_ids = calibration_token_ids(tokenizer, calibration_rows, languages, strategy.calibration_tokens)
        batches = input_batches(token_ids, batch_tokens)
    storage = apply_strategy(model, strategy, salience_indices, batches)
    return storage, time.perf_counter() - started
