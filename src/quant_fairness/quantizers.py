"""Weight quantizers: quantize a tensor and return it dequantized, with its storage cost.

Each function returns (dequantized tensor in the input dtype, storage bits), where
storage bits count the integer codes plus every scale (FP16, 16 bits) and zero point
(`bits` bits) the format must keep.

    w_hat, bits = seed_absmax_int4(w)                      # the seed's quantizer
    w_hat, bits = round_to_nearest(w, bits=4, group_size=128, symmetric=False)
    w_hat, bits = round_to_nearest(w, bits=8, group_size=None, symmetric=True)  # per channel
"""

import math

import torch

SCALE_BITS = 16


def seed_absmax_int4(weight):
    """Per-tensor symmetric absmax: scale = max|W| / 7, codes clamped to [-8, 7] (seed protocol)."""
    w = weight.float()
    scale = w.abs().max() / 7
    if scale == 0:
        return weight.clone(), 4 * weight.numel() + SCALE_BITS
    codes = torch.clamp(torch.round(w / scale), -8, 7)
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


def _fake_quantize_groups(groups, bits, symmetric):
    """Quantize along the last axis of `groups` (rows, n_groups, group) and dequantize."""
    scale, zero = (t.unsqueeze(-1) for t in group_grid(groups, bits, symmetric))
    return (quantize_codes(groups, scale, zero, bits, symmetric) - zero) * scale


def round_to_nearest(weight, bits, group_size=None, symmetric=True, per_tensor=False):
    """Round-to-nearest integer quantization of a 2-D weight in nn.Linear layout (out, in).

    Groups run along the input axis; `group_size=None` means one group per output channel and
    `per_tensor=True` one group for the whole tensor. A last group shorter than
    `group_size` (576 columns in groups of 128) is quantized on its own.
    """
    w = weight.float()
    rows, cols = w.shape
    if per_tensor:
        flat = w.reshape(1, 1, -1)
        out = _fake_quantize_groups(flat, bits, symmetric).reshape(rows, cols)
        n_groups = 1
    else:
        size = cols if group_size is None else min(group_size, cols)
        full = cols // size * size
        pieces = [_fake_quantize_groups(w[:, :full].reshape(rows, -1, size), bits, symmetric).reshape(rows, full)]
        if full < cols:
            pieces.append(_fake_quantize_groups(w[:, full:].reshape(rows, 1, -1), bits, symmetric).reshape(rows, -1))
        out = torch.cat(pieces, dim=1)
        n_groups = rows * math.ceil(cols / size)
    per_group = SCALE_BITS + (0 if symmetric else bits)
    return out.contiguous().to(weight.dtype), bits * weight.numel() + n_groups * per_group
