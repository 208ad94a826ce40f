"""Protection masks: which entries of the targeted weights stay in their original precision.

    masks = protection_masks(model, strategy, targeted)    # {parameter name: bool tensor}
    bits = patch_bits(mask)                                # FP16 values + index of kept weights

A weight is protected if any rule of the strategy's `protect:` selects it (union). Rules
that name structure (layers, depths, components, heads) are resolved against this
model, so an index out of range or a component the architecture lacks is an error,
not a silent no-op. Salience masks come precomputed from the calibration rule.
"""

import math

import torch
from torch import nn

from quant_fairness.data.layers import layer_count
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.strategies import FIRST_ATTENTION

FP16_BITS = 16


def patch_bits(mask):
    """FP16 values of the kept weights plus their index: a bitmap or flat indices, whichever is smaller."""
    kept = int(mask.sum())
    if kept == 0:
        return 0
    numel = mask.numel()
    index_bits = min(numel, kept * max(1, math.ceil(math.log2(numel))))
    return FP16_BITS * kept + index_bits


def _fail(strategy, message):
    raise QuantFairnessError(f"strategy {strategy.name!r}: {message}")


def _resolve_layer(strategy, index, count, what="layer"):
    if not -count <= index < count:
        _fail(strategy, f"{what} {index} is out of range for a model with {count} blocks (valid {-count}..{count - 1})")
    return index % count


def _resolve_layers(strategy, count):
    layers = {_resolve_layer(strategy, index, count) for index in strategy.protection.layers}
    # Relative depth d = index / blocks: 0.75 of GPT-2's 12 blocks is L9, 1.0 the last block.
    layers |= {min(int(depth * count), count - 1) for depth in strategy.protection.depths}
    return layers


def top_percent_masks(scores, percent):
    """Masks of exactly the highest-scoring `percent` % of all entries of `scores`.

    Entries tied at the threshold are taken in flat order, so the count is exact and the
    choice deterministic even when many scores are equal (bf16 weights, zero salience).
    Masks live on the CPU, whatever the scores' device: the ranking copies every score once,
    which on a GPU would double a large model's memory.
    """
    flat = torch.cat([score.flatten().float().cpu() for score in scores])
    keep = round(percent / 100 * flat.numel())
    chosen = torch.zeros(flat.numel(), dtype=torch.bool)
    if keep > 0:
        threshold = torch.kthvalue(flat, flat.numel() - keep + 1).values
        chosen = flat > threshold
        tied = (flat == threshold).nonzero().flatten()
        chosen[tied[: keep - int(chosen.sum())]] = True
    pieces = chosen.split([score.numel() for score in scores])
    return [mask.view(score.shape) for mask, score in zip(pieces, scores, strict=True)]


def _attention_config(model):
    config = model.config.get_text_config()
    heads = getattr(config, "num_attention_heads", None) or config.n_head
    hidden = getattr(config, "hidden_size", None) or config.n_embd
    head_dim = getattr(config, "head_dim", None) or hidden // heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return heads, head_dim, kv_heads


def _head_mask(model, weight, head):
    """Entries of one attention weight that belong to `head`, or None if the weight has no per-head part."""
    heads, head_dim, kv_heads = _attention_config(model)
    role = weight.name.rsplit(".", 2)[-2]
    conv1d = not isinstance(weight.module, nn.Linear)
    tensor = weight.module.weight
    mask = torch.zeros(tensor.shape, dtype=torch.bool)
    # Projections into head space own rows (output features); projections out of it own columns.
    out_axis, in_axis = (1, 0) if conv1d else (0, 1)
    start = head * head_dim
    # Grouped-query attention: query heads share key/value heads in consecutive groups.
    kv_start = head // (heads // kv_heads) * head_dim
    if role in ("q_proj", "query"):
        mask.narrow(out_axis, start, head_dim).fill_(True)
    elif role in ("k_proj", "v_proj", "key", "value"):
        mask.narrow(out_axis, kv_start, head_dim).fill_(True)
    elif role in ("o_proj", "out_proj", "dense", "c_proj"):
        mask.narrow(in_axis, start, head_dim).fill_(True)
    elif role == "c_attn":  # GPT-2: [q | k | v] along the output axis
        for part in range(3):
            mask.narrow(out_axis, part * heads * head_dim + start, head_dim).fill_(True)
    elif role == "query_key_value":  # GPT-NeoX and BLOOM: per head [q k v] interleaved
        mask.narrow(out_axis, head * 3 * head_dim, 3 * head_dim).fill_(True)
    else:
        return None
    return mask


def _structural_masks(model, strategy, targeted):
    protection = strategy.protection
    count = layer_count(model)
    layers = _resolve_layers(strategy, count)
    components = set(protection.components)
    present = {weight.component for weight in targeted}
    for component in components:
        needed = "attention" if component == FIRST_ATTENTION else component
        if needed not in present:
            _fail(strategy, f"protects component {component!r}, which {type(model).__name__} has no targeted weight of")
    heads = {}
    heads_by_layer = {}
    head_count = _attention_config(model)[0] if protection.heads else 0
    for layer, head in protection.heads:
        layer = _resolve_layer(strategy, layer, count, "heads layer")
        if head >= head_count:
            _fail(strategy, f"head {head} is out of range for a model with {head_count} heads")
        heads_by_layer.setdefault(layer, []).append(head)
    masks = {}
    for weight in targeted:
        whole = (
            weight.layer in layers
            or weight.component in components
            or (FIRST_ATTENTION in components and weight.component == "attention" and weight.layer == 0)
        )
        if whole:
            masks[weight.name] = torch.ones(weight.module.weight.shape, dtype=torch.bool)
        elif weight.component == "attention" and weight.layer in heads_by_layer and weight.is_matrix_weight:
            for head in heads_by_layer[weight.layer]:
                head_mask = _head_mask(model, weight, head)
                if head_mask is not None:
                    heads[weight.name] = heads.get(weight.name, head_mask) | head_mask
    for layer in heads_by_layer:
        if not any(weight.layer == layer and weight.name in heads for weight in targeted):
            _fail(strategy, f"found no per-head projection in the targeted attention weights of block {layer}")
    for name, mask in heads.items():
        masks[name] = masks.get(name, mask) | mask
    return masks


def _check_salience_indices(strategy, salience_indices, params, targeted):
    """A mask made for another model or strategy must not be applied to this one."""
    names = {weight.name for weight in targeted}
    for name, indices in salience_indices.items():
        if name not in names:
            _fail(strategy, f"its salience mask names {name!r}, which is not a weight this strategy quantizes")
        if indices.numel() and (int(indices.min()) < 0 or int(indices.max()) >= params[name].numel()):
            _fail(strategy, f"its salience mask indexes outside {name!r} ({params[name].numel()} entries)")


def protection_masks(model, strategy, targeted, salience_indices=None):
    """{parameter name: bool mask} for every targeted weight with at least one protected entry."""
    protection = strategy.protection
    params = dict(model.named_parameters())
    masks = _structural_masks(model, strategy, targeted)
    selected = bool(protection.layers or protection.depths or protection.components or protection.heads)
    if selected and not masks:
        _fail(strategy, "its protect rules select no weight that the quantizer targets")
    if protection.top_percent is not None:
        magnitudes = [params[weight.name].detach().cpu().abs() for weight in targeted]
        if protection.scope == "global":
            top = top_percent_masks(magnitudes, protection.top_percent)
        else:
            top = [top_percent_masks([m], protection.top_percent)[0] for m in magnitudes]
        for weight, mask in zip(targeted, top, strict=True):
            masks[weight.name] = masks.get(weight.name, mask) | mask
    if protection.salience is not None:
        if salience_indices is None:
            _fail(strategy, "protects by salience but no salience mask was given (run the salience_mask rule)")
        _check_salience_indices(strategy, salience_indices, params, targeted)
        for weight in targeted:
            indices = salience_indices.get(weight.name)
            if indices is None:
                continue
            mask = torch.zeros(params[weight.name].numel(), dtype=torch.bool)
            mask[indices.long()] = True
            mask = mask.view(params[weight.name].shape)
            masks[weight.name] = masks.get(weight.name, mask) | mask
    return {name: mask for name, mask in masks.items() if mask.any()}
