"""Weight quantizers: quantize a tensor and return it dequantized, with its storage cost.

Each function returns (dequantized tensor in the input dtype, storage bits), where
storage bits count the integer codes plus every scale (FP16, 16 bits) and zero point
(`bits` bits) the format must keep.

    w_hat, bits = seed_absmax_int4(w)                      # the seed's quantizer
    w_hat, bits = round_to_nearest(w, bits=4, group_size=128, symmetric=False)
    w_hat, bits = round_to_nearest(w, bits=8, group_size=None, symmetric=True)  # per channel
    codes, scale = seed_absmax_codes(w)                    # the codes themselves, for packing
    scale, zero, width = rtn_grid(w, bits=4, group_size=128, symmetric=False)
"""

import math

import torch

SCALE_BITS = 16


def seed_absmax_codes(weight):
    """(codes in [-8, 7] as floats, scale) of the seed's per-tensor symmetric absmax INT4."""
    w = weight.float()
    scale = w.abs().max() / 7
    if scale == 0:
        return torch.zeros_like(w), scale
    return torch.clamp(torch.round(w / scale), -8, 7), scale


def seed_absmax_int4(weight):
    """Per-tensor symmetric absmax: scale = max|W| / 7, codes clamped to [-8, 7] (seed protocol)."""
    codes, scale = seed_absmax_codes(weight)
    if scale == 0:
        return weight.clone(), 4 * weight.numel() + SCALE_BITS
    return (codes * scale).to(weight.dtype), 4 * weight.numel() + SCALE_BITS


def _fp16_scale(scale):
    """Scales are stored in FP16, so they are used as FP16 values; a zero scale becomes 1."""
    scale = scale.half().float()
    return torch.where(scale == 0, torch.ones_like(scale), scale)


def group_grid(values, bits, symmetric):
    """(scale, zero point) of each row of `values` (..., group), reduced over the last axis."""
    if symmetric:
        scale = _fp16_scale(values.abs().amax(dim=-1) / (2 ** (bits - 1) - 1))
        return scale, torch.zeros_like(scale)
    top = 2**bits - 1
    # The range always contains 0 so the zero point is a storable code in [0, top].
    low = values.amin(dim=-1).clamp(max=0)
    high = values.amax(dim=-1).clamp(min=0)
    scale = _fp16_scale((high - low) / top)
    return scale, torch.clamp(torch.round(-low / scale), 0, top)


def quantize_codes(values, scale, zero, bits, symmetric):
    """Integer codes (as floats) of `values` on the grid (scale, zero), clamped to the code range."""
    low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if symmetric else (0, 2**bits - 1)
    return torch.clamp(torch.round(values / scale) + zero, low, high)


def rtn_grid(weight, bits, group_size=None, symmetric=True, per_tensor=False):
    """(scale, zero point) per group as (rows, groups) tensors, and the group width.

    Groups run along the input axis of a 2-D weight in nn.Linear layout (out, in);
    `group_size=None` means one group per output channel and `per_tensor=True` one group
    for the whole tensor ((1, 1) tensors). A last group shorter than `group_size` (576
    columns in groups of 128) is its own group.
    """
    w = weight.float()
    rows, cols = w.shape
    if per_tensor:
        scale, zero = group_grid(w.reshape(1, -1), bits, symmetric)
        return scale.reshape(1, 1), zero.reshape(1, 1), cols
    size = cols if group_size is None else min(group_size, cols)
    full = cols // size * size
    grids = [group_grid(w[:, :full].reshape(rows, -1, size), bits, symmetric)]
    if full < cols:
        grids.append(group_grid(w[:, full:].reshape(rows, 1, -1), bits, symmetric))
    return torch.cat([g[0] for g in grids], dim=1), torch.cat([g[1] for g in grids], dim=1), size


def expand_groups(values, size, cols):
    """Per-group values (rows, groups) spread over the columns of their groups."""
    if values.shape[1] == 1:
        return values
    return values.repeat_interleave(size, dim=1)[:, :cols]


def dequantize_codes(codes, scale, zero):
    """Weights back from codes and their expanded grid."""
    return (codes - zero) * scale


def round_to_nearest(weight, bits, group_size=None, symmetric=True, per_tensor=False):
    """Round-to-nearest integer quantization of a 2-D weight in nn.Linear layout (out, in),
    on the grid of `rtn_grid`."""
    scale, zero, size = rtn_grid(weight, bits, group_size, symmetric, per_tensor)
    cols = weight.shape[1]
    scale, zero = expand_groups(scale, size, cols), expand_groups(zero, size, cols)
    codes = quantize_codes(weight.float(), scale, zero, bits, symmetric)
    out = dequantize_codes(codes, scale, zero)
    n_groups = 1 if per_tensor else weight.shape[0] * math.ceil(cols / size)
    per_group = SCALE_BITS + (0 if symmetric else bits)
    return out.contiguous().to(weight.dtype), bits * weight.numel() + n_groups * per_group
