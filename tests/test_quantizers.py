"""Quantizers produce values on their integer grid, within half a step of the input, and
count their storage exactly."""

import math

import pytest
import torch

from quant_fairness.quantize.quantizers import SCALE_BITS, round_to_nearest, seed_absmax_int4


def test_seed_absmax_is_per_tensor_symmetric_on_16_levels():
    torch.manual_seed(0)
    w = torch.randn(64, 48)
    q, bits = seed_absmax_int4(w)
    scale = w.abs().max() / 7
    codes = q / scale
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    # scale = max|W|/7 puts the largest magnitude exactly on ±7: code -8 is never used.
    assert codes.abs().max().round() == 7
    assert (q - w).abs().max() <= scale / 2 + 1e-6
    assert bits == 4 * w.numel() + SCALE_BITS


def test_seed_absmax_leaves_an_all_zero_tensor_alone():
    w = torch.zeros(4, 4)
    q, _ = seed_absmax_int4(w)
    assert torch.equal(q, w)


@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("bits", [2, 3, 4, 8])
def test_group_rtn_uses_at_most_2_to_the_bits_levels_per_group(bits, symmetric):
    torch.manual_seed(1)
    w = torch.randn(6, 576)  # 576 = 4.5 groups of 128: the last group is ragged
    q, storage = round_to_nearest(w, bits, group_size=128, symmetric=symmetric)
    edges = [0, 128, 256, 384, 512, 576]
    for row in range(6):
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            assert q[row, lo:hi].unique().numel() <= 2**bits
    groups = 6 * math.ceil(576 / 128)
    assert storage == bits * w.numel() + groups * (SCALE_BITS + (0 if symmetric else bits))


def test_asymmetric_rtn_error_is_within_half_a_step():
    torch.manual_seed(2)
    w = torch.randn(8, 256) + 0.5
    q, _ = round_to_nearest(w, 4, group_size=64, symmetric=False)
    groups = w.reshape(8, 4, 64)
    step = (groups.amax(-1).clamp(min=0) - groups.amin(-1).clamp(max=0)) / 15
    error = (q - w).abs().reshape(8, 4, 64).amax(-1)
    assert torch.all(error <= step / 2 * 1.01 + 1e-5)  # 1% slack: the scale is rounded to FP16


def test_asymmetric_grid_contains_zero_and_fp16_scales():
    w = torch.tensor([[0.3, 0.5, 0.9, 1.7]])  # all positive: the zero point must still be a valid code
    q, _ = round_to_nearest(w, 2, group_size=4, symmetric=False)
    scale = torch.tensor(1.7 / 3).half().float()
    assert torch.allclose(q / scale, (q / scale).round(), atol=1e-5)
    assert (q / scale).min() >= 0 and (q / scale).max() <= 3


def test_per_tensor_rtn_has_one_scale():
    w = torch.linspace(-1, 1, 100).reshape(10, 10)
    q, bits = round_to_nearest(w, 4, per_tensor=True)
    assert q.unique().numel() <= 16
    assert bits == 4 * 100 + SCALE_BITS
