"""GPTQ and AWQ-style scaling quantize onto round_to_nearest's grid, lower the layer's output
error on the inputs they were calibrated on, and read statistics only at real tokens."""

import math

import pytest
import torch
from conftest import tiny_model

from quant_fairness.data.layers import weight_map
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.calibrated import (
    GroupCodes,
    awq_quantize,
    awq_search,
    collect_linear_statistics,
    gptq_codes,
    gptq_codes_many,
    gptq_quantize,
    output_mse,
    sweep_batches,
)
from quant_fairness.quantize.quantizers import SCALE_BITS, group_grid, quantize_codes, round_to_nearest


def correlated_inputs(rows, features, seed=0):
    """Inputs with correlated channels and a few large ones, as in a transformer."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(features, features, generator=generator) / math.sqrt(features)
    mixing += 0.5 * torch.randn(1, features, generator=generator)  # a shared component
    x = torch.randn(rows, features, generator=generator) @ mixing
    x[:, :4] *= 8  # outlier channels
    return x


def hessian_of(x):
    return (2 / x.shape[0]) * x.double().t() @ x.double()


def weight_of(out_features, in_features, seed=1):
    return torch.randn(out_features, in_features, generator=torch.Generator().manual_seed(seed)) * 0.05


def statistics_of(x):
    from quant_fairness.quantize.calibrated import LinearStatistics

    return LinearStatistics(
        hessian_of(x), x.abs().mean(0), x.square().mean(0), x[:: max(1, x.shape[0] // 256)], x.shape[0]
    )


# --- GPTQ ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [3, 4])
def test_gptq_lowers_output_error_below_round_to_nearest(bits):
    x = correlated_inputs(2048, 256)
    w = weight_of(96, 256)
    gptq, _ = gptq_quantize(w, hessian_of(x), bits, group_size=64)
    rtn, _ = round_to_nearest(w, bits, group_size=64, symmetric=False)
    assert output_mse(x, w, gptq) < 0.7 * output_mse(x, w, rtn)


@pytest.mark.parametrize("act_order", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("group_size", [32, None])
def test_gptq_values_lie_on_their_groupsgroup_grid(group_size, symmetric, act_order):
    x = correlated_inputs(512, 80)  # 80 inputs in groups of 32: the last group has 16
    w = weight_of(24, 80)
    result = gptq_codes(w, hessian_of(x), 3, group_size, symmetric, block_size=48, act_order=act_order)
    w_hat, _ = gptq_quantize(w, hessian_of(x), 3, group_size, symmetric, block_size=48, act_order=act_order)
    assert torch.equal(w_hat, result.dequantize())
    # Re-quantizing the returned weights with their group's scale and zero gives integer codes in range.
    scale, zero = result.scale[:, result.group], result.zero[:, result.group]
    codes = w_hat / scale + zero
    assert torch.allclose(codes, codes.round(), atol=1e-4)
    low, high = (-4, 3) if symmetric else (0, 7)
    assert codes.round().min() >= low and codes.round().max() <= high
    assert torch.equal(result.scale, result.scale.half().float())
    assert torch.equal(result.zero, result.zero.round()) and (result.zero >= 0).all() and (result.zero <= 7).all()
    sizes = torch.bincount(result.group)
    assert sizes.tolist() == ([32, 32, 16] if group_size else [80])
    if act_order and group_size:
        # Groups follow descending diag(H): the outlier channels 0..3 share the first group.
        assert result.group[:4].tolist() == [0, 0, 0, 0]
        assert not torch.equal(result.group, torch.arange(80) // 32)


@pytest.mark.parametrize("act_order", [False, True])
def test_gptq_of_several_weights_at_once_is_each_weight_alone(act_order):
    # Swept together, each weight keeps its own Hessian, protection and dead inputs.
    weights = [weight_of(24, 80, seed) for seed in (1, 2, 3)]
    hessians = [hessian_of(correlated_inputs(512, 80, seed)) for seed in (4, 5, 6)]
    hessians[2][5, :], hessians[2][:, 5] = 0, 0
    keeps = [None, torch.rand(24, 80, generator=torch.Generator().manual_seed(1)) < 0.1, None]
    together = gptq_codes_many(weights, hessians, 4, 32, False, block_size=48, act_order=act_order, keeps=keeps)
    for weight, hessian, keep, result in zip(weights, hessians, keeps, together, strict=True):
        alone = gptq_codes(weight, hessian, 4, 32, False, block_size=48, act_order=act_order, keep=keep)
        for field in ("codes", "scale", "zero", "group"):
            assert torch.equal(getattr(result, field), getattr(alone, field)), field
    assert not torch.equal(together[0].codes, together[1].codes)


def test_weights_sweep_together_by_kind_within_the_bound():
    kinds = ["a", "b", "a", "a", "b", "a"]
    assert sweep_batches(kinds, [4] * 6, limit=8) == [[0, 2], [1, 4], [3, 5]]
    assert sweep_batches(["a", "a"], [10, 1], limit=8) == [[0], [1]]  # too large alone: a batch of its own
    with pytest.raises(QuantFairnessError, match="weights of one shape"):
        gptq_codes_many([weight_of(4, 8), weight_of(5, 8)], [hessian_of(correlated_inputs(64, 8))] * 2, 4, 8)


@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("group_size", [16, None])
def test_gptq_with_a_diagonal_hessian_is_round_to_nearest(group_size, symmetric):
    # No correlation between inputs means no error to spread: GPTQ reduces to RTN exactly.
    w = weight_of(20, 72)
    hessian = torch.diag(torch.rand(72, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) + 0.5)
    gptq, gptq_bits = gptq_quantize(w, hessian, 4, group_size, symmetric, block_size=32)
    rtn, rtn_bits = round_to_nearest(w, 4, group_size, symmetric)
    assert torch.equal(gptq, rtn)
    assert gptq_bits == rtn_bits


def test_gptq_grid_helpers_reproduce_round_to_nearest():
    w = weight_of(10, 40) + 0.03
    for bits, symmetric in [(2, False), (3, True), (4, False), (8, True)]:
        scale, zero = group_grid(w, bits, symmetric)
        ours = (quantize_codes(w, scale[:, None], zero[:, None], bits, symmetric) - zero[:, None]) * scale[:, None]
        assert torch.equal(ours, round_to_nearest(w, bits, None, symmetric)[0])


def naive_gptq(w, hessian, bits, group_size, damp=0.01):
    """Column-by-column optimal brain surgeon update with an explicit inverse, in float64."""
    w = w.double().clone()
    h = hessian.clone()
    h.diagonal().add_(damp * h.diagonal().mean())
    hinv = torch.linalg.inv(h)
    out = torch.zeros_like(w)
    for j in range(w.shape[1]):
        if j % group_size == 0:
            scale, zero = group_grid(w[:, j : j + group_size].float(), bits, False)
        code = quantize_codes(w[:, j].float(), scale, zero, bits, False)
        out[:, j] = ((code - zero) * scale).double()
        error = (w[:, j] - out[:, j]) / hinv[j, j]
        w[:, j + 1 :] -= error[:, None] * hinv[j, j + 1 :]
        hinv -= hinv[:, j : j + 1] @ hinv[j : j + 1, :] / hinv[j, j]  # drop column j from the problem
    return out.float()


def test_gptq_matches_a_naive_obs_implementation():
    # Groups of 16 start inside blocks of 40 and straddle block ends: the lazy updates
    # and the group ranges must still see every earlier error.
    x = correlated_inputs(1024, 96)
    w = weight_of(32, 96)
    ours, _ = gptq_quantize(w, hessian_of(x), 4, group_size=16, block_size=40)
    reference = naive_gptq(w, hessian_of(x), 4, 16)
    # float32 vs float64 arithmetic may flip a rounding tie and let it cascade a little.
    assert (ours == reference).float().mean() > 0.98
    assert output_mse(x, w, ours) == pytest.approx(output_mse(x, w, reference), rel=0.02)


def test_gptq_block_size_only_batches_the_same_updates():
    x = correlated_inputs(1024, 128)
    w = weight_of(32, 128)
    wide, _ = gptq_quantize(w, hessian_of(x), 4, group_size=32, block_size=128)
    narrow, _ = gptq_quantize(w, hessian_of(x), 4, group_size=32, block_size=7)
    assert (wide == narrow).float().mean() > 0.98


def test_gptq_is_deterministic():
    x = correlated_inputs(512, 64)
    w = weight_of(16, 64)
    first = gptq_quantize(w, hessian_of(x), 4, 32, act_order=True)
    second = gptq_quantize(w, hessian_of(x), 4, 32, act_order=True)
    assert torch.equal(first[0], second[0]) and first[1] == second[1]


def test_gptq_storage_counts_the_permutation_only_when_groups_are_scattered():
    x = correlated_inputs(512, 80)
    w = weight_of(8, 80)
    _, rtn_bits = round_to_nearest(w, 4, 32, symmetric=False)
    assert gptq_quantize(w, hessian_of(x), 4, 32)[1] == rtn_bits
    assert gptq_quantize(w, hessian_of(x), 4, 32, act_order=True)[1] == rtn_bits + 80 * math.ceil(math.log2(80))
    _, per_channel_bits = round_to_nearest(w, 4, None, symmetric=True)
    assert gptq_quantize(w, hessian_of(x), 4, None, symmetric=True, act_order=True)[1] == per_channel_bits


def test_gptq_zeroes_dead_inputs_and_rejects_a_wrong_hessian():
    x = correlated_inputs(256, 32)
    x[:, 5] = 0
    w = weight_of(8, 32)
    w_hat, _ = gptq_quantize(w, hessian_of(x), 4, 16)
    assert (w_hat[:, 5] == 0).all() and (w_hat[:, 6] != 0).any()
    with pytest.raises(QuantFairnessError):
        gptq_quantize(w, hessian_of(x)[:16, :16], 4, 16)


def test_group_codes_storage_matches_its_parts():
    codes = GroupCodes(
        torch.zeros(2, 6), torch.ones(2, 2), torch.zeros(2, 2), torch.tensor([0, 0, 0, 1, 1, 1]), 3, False, False
    )
    assert codes.storage_bits == 3 * 12 + 4 * (SCALE_BITS + 3)


# --- AWQ ----------------------------------------------------------------------------------


def test_awq_with_alpha_zero_is_round_to_nearest_plus_the_stored_scales():
    x = correlated_inputs(512, 96)
    w = weight_of(24, 96)
    awq, awq_bits = awq_quantize(w, statistics_of(x), 4, group_size=32, grid=1)  # grid 1: alpha = 0 only
    rtn, rtn_bits = round_to_nearest(w, 4, 32, symmetric=False)
    assert torch.equal(awq, rtn)
    assert awq_bits == rtn_bits + SCALE_BITS * 96


@pytest.mark.parametrize("bits", [3, 4])
def test_awq_search_never_loses_to_alpha_zero_and_helps_with_outlier_channels(bits):
    x = correlated_inputs(1024, 128)
    w = weight_of(48, 128)
    stats = statistics_of(x)
    alpha, s, mse = awq_search(w, stats, bits, group_size=64)
    rtn_mse = output_mse(stats.sample_inputs, w, round_to_nearest(w, bits, 64, symmetric=False)[0])
    assert mse <= rtn_mse
    assert alpha > 0 and mse < 0.9 * rtn_mse
    w_hat, _ = awq_quantize(w, stats, bits, group_size=64)
    # The returned weight is Q(W·s)/s for the chosen s, and it is what the MSE was measured on.
    assert torch.equal(w_hat, round_to_nearest(w * s, bits, 64, symmetric=False)[0] / s)
    assert output_mse(stats.sample_inputs, w, w_hat) == mse
    assert torch.equal(s, s.half().float())


def test_awq_is_deterministic():
    x = correlated_inputs(512, 64)
    w = weight_of(16, 64)
    first = awq_quantize(w, statistics_of(x), 3, 32)
    second = awq_quantize(w, statistics_of(x), 3, 32)
    assert torch.equal(first[0], second[0]) and first[1] == second[1]


# --- calibration statistics ---------------------------------------------------------------


def padded(sequences, pad_id=0):
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq)
        mask[row, : len(seq)] = 1
    return ids, mask


SEQUENCES = [[0, 17, 45, 200, 3, 99, 150, 8, 61, 12], [0, 5, 250, 31]]

NAMES = {
    "gpt2": ["transformer.h.0.attn.c_attn.weight", "transformer.h.2.mlp.c_proj.weight"],
    "opt": ["model.decoder.layers.0.fc1.weight", "model.decoder.layers.1.self_attn.k_proj.weight"],  # fc1: 2-D inputs
    "llama": ["model.layers.0.self_attn.q_proj.weight", "model.layers.2.mlp.down_proj.weight", "lm_head.weight"],
}


@pytest.mark.parametrize("family", sorted(NAMES))
def test_statistics_ignore_padding(family):
    model = tiny_model(family)
    names = NAMES[family]
    together = collect_linear_statistics(model, [padded(SEQUENCES)], names)
    apart = collect_linear_statistics(model, [padded([seq]) for seq in SEQUENCES], names)
    noisy_padding = collect_linear_statistics(model, [padded(SEQUENCES, pad_id=77)], names)
    for name in names:
        assert together[name].tokens == apart[name].tokens == 14
        # Whatever the padding tokens are, nothing changes.
        assert torch.equal(together[name].hessian, noisy_padding[name].hessian)
        assert torch.equal(together[name].sample_inputs, noisy_padding[name].sample_inputs)
        # Unpadded, the real tokens are the same up to float32 noise of other batch shapes.
        size = together[name].hessian.abs().max()
        assert torch.allclose(together[name].hessian, apart[name].hessian, rtol=1e-5, atol=1e-6 * size)
        assert torch.allclose(together[name].mean_abs_input, apart[name].mean_abs_input, rtol=1e-4, atol=1e-7)
        assert torch.allclose(together[name].sample_inputs, apart[name].sample_inputs, rtol=1e-4, atol=1e-6)
    for module in model.modules():
        assert not module._forward_pre_hooks


def test_statistics_cover_every_matrix_weight_of_every_family(family_model):
    _, model = family_model
    names = [weight.name for weight in weight_map(model) if weight.is_matrix_weight]
    stats = collect_linear_statistics(model, [padded(SEQUENCES)], names)
    for name in names:
        features = stats[name].hessian.shape[0]
        assert stats[name].tokens == 14 and stats[name].sample_inputs.shape == (14, features)
        assert torch.equal(stats[name].hessian, stats[name].hessian.t())
        assert torch.linalg.eigvalsh(stats[name].hessian).min() > -1e-6 * stats[name].hessian.diagonal().max()


def test_statistics_are_those_of_the_module_inputs():
    model = tiny_model("gpt2")
    name = "transformer.h.1.mlp.c_fc.weight"  # Conv1D: weight (in=32, out=128)
    seen = []
    handle = model.get_submodule(name[: -len(".weight")]).register_forward_hook(
        lambda module, args, output: seen.append(args[0])
    )
    ids, mask = padded(SEQUENCES)
    stats = collect_linear_statistics(model, [(ids, mask)], [name], sample_rows=5)[name]
    handle.remove()
    x = seen[0][mask.bool()].double()
    assert stats.hessian.shape == (32, 32) and stats.hessian.dtype == torch.float64
    assert torch.allclose(stats.hessian, 2 / 14 * x.t() @ x, rtol=1e-5, atol=1e-8)
    assert torch.allclose(stats.mean_abs_input.double(), x.abs().mean(0), rtol=1e-5)
    # Five rows evenly spaced over the 14 real tokens: 0, 3, 6 (or 7), 10, 13.
    assert stats.sample_inputs.shape == (5, 32)
    assert torch.allclose(stats.sample_inputs[0].double(), x[0])
    assert torch.allclose(stats.sample_inputs[-1].double(), x[13])


def test_statistics_remove_their_hooks_on_error_and_refuse_other_modules():
    model = tiny_model("llama")
    bad = (torch.tensor([[0, 5000]]), torch.ones(1, 2, dtype=torch.long))  # token id beyond the vocabulary
    with pytest.raises(IndexError):
        collect_linear_statistics(model, [bad], ["model.layers.0.mlp.up_proj.weight"])
    assert all(not module._forward_pre_hooks for module in model.modules())
    with pytest.raises(QuantFairnessError):
        collect_linear_statistics(model, [padded(SEQUENCES)], ["model.layers.0.input_layernorm.weight"])


def test_gptq_on_collected_statistics_beats_rtn_on_a_tiny_llama():
    model = tiny_model("llama")
    name = "model.layers.1.mlp.down_proj.weight"
    batches = [padded([[0, *range(1 + 7 * k, 40 + 7 * k)] for k in range(4)])]
    stats = collect_linear_statistics(model, batches, [name])[name]
    w = model.get_parameter(name).detach()
    gptq, _ = gptq_quantize(w, stats.hessian, 3, group_size=32)
    rtn, _ = round_to_nearest(w, 3, 32, symmetric=False)
    assert stats.tokens == 160 and stats.sample_inputs.shape[0] == 160  # all of them: fewer than 256
    assert output_mse(stats.sample_inputs, w, gptq) < 0.8 * output_mse(stats.sample_inputs, w, rtn)


def test_the_hessian_is_optional_and_its_diagonal_is_twice_the_mean_square():
    model = tiny_model("llama")
    names = [w.name for w in weight_map(model) if w.is_matrix_weight and w.layer == 0]
    batches = [(torch.tensor([[1, 5, 9, 30, 2, 7]]), torch.ones(1, 6, dtype=torch.long))]
    full = collect_linear_statistics(model, batches, names)
    light = collect_linear_statistics(model, batches, names, hessian=False)
    for name in names:
        assert light[name].hessian is None
        assert torch.allclose(full[name].hessian.diagonal().float(), 2 * light[name].mean_square_input, rtol=1e-5)
        assert torch.equal(full[name].mean_abs_input, light[name].mean_abs_input)


def test_gptq_compensates_for_protected_weights_as_they_really_end_up():
    """Entries kept in FP16 keep their original value, so later columns must correct for that
    value, not for a quantized one that is thrown away."""
    x = correlated_inputs(512, 64)
    w = weight_of(32, 64)
    keep = torch.zeros_like(w, dtype=torch.bool)
    keep[:, ::7] = True
    aware, _ = gptq_quantize(w, hessian_of(x), 3, 16, False, keep=keep)
    blind, _ = gptq_quantize(w, hessian_of(x), 3, 16, False)
    for result in (aware, blind):
        result[keep] = w[keep]
    assert output_mse(x, w, aware) < output_mse(x, w, blind)
