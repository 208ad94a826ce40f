"""Packed models and fairness patches: real files, exact round trips, refused tampering."""

import json
import math

import pytest
import torch
from conftest import TINY_CONFIGS, tiny_model, tiny_tokenizer
from safetensors.torch import load_file

from quant_fairness.artifacts.fairness_patch import (
    MANIFEST,
    PATCH_FILE,
    apply_patch,
    pack,
    patch_tensors,
    patched_weights,
)
from quant_fairness.artifacts.low_rank import corrected_weights, low_rank_corrections, top_singular_factors
from quant_fairness.artifacts.packing import (
    PACKED_FILE,
    pack_model,
    pack_nibbles,
    packed_bytes,
    read_metadata,
    unpack_file,
    unpack_nibbles,
)
from quant_fairness.data.models import load_model
from quant_fairness.data.wheels import sha256_file
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import apply_strategy, targeted_weights
from quant_fairness.quantize.protection import protection_masks
from quant_fairness.quantize.strategies import parse_strategy

PACKABLE = {
    "seed": {"quantizer": "seed_absmax"},
    "rtn4_sym_g16": {"quantizer": "rtn", "bits": 4, "group_size": 16, "symmetric": True},
    "rtn4_asym_g24": {"quantizer": "rtn", "bits": 4, "group_size": 24, "symmetric": False},  # 32 columns: a tail group
    "rtn8_channel": {"quantizer": "rtn", "bits": 8, "granularity": "channel"},
    "rtn4_tensor_asym": {"quantizer": "rtn", "bits": 4, "granularity": "tensor", "symmetric": False},
}


def strategy(name, spec, protect=None):
    return parse_strategy(name, spec | ({"protect": protect} if protect else {}))


def model_folder(tmp_path, family):
    folder = tmp_path / family
    tiny_model(family).save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def test_nibbles_round_trip_odd_counts():
    codes = torch.tensor([0, 15, 7, 8, 1], dtype=torch.uint8)
    packed = pack_nibbles(codes)
    assert packed.tolist() == [0xF0, 0x87, 0x01]
    assert unpack_nibbles(packed, 5).tolist() == codes.tolist()


@pytest.mark.parametrize("family", sorted(TINY_CONFIGS))
@pytest.mark.parametrize("name", sorted(PACKABLE))
def test_unpacked_weights_equal_the_simulated_quantizer_bit_for_bit(tmp_path, family, name):
    spec = PACKABLE[name]
    model = tiny_model(family)
    tensors, metadata = pack_model(model, strategy(name, spec), family)
    path = tmp_path / PACKED_FILE
    path.write_bytes(packed_bytes(tensors, metadata))
    unpacked = unpack_file(path)
    simulated = tiny_model(family)
    apply_strategy(simulated, strategy(name, spec))
    targeted = {weight.name for weight in targeted_weights(simulated, strategy(name, spec))}
    for param_name, param in simulated.named_parameters():
        expected = param.detach() if param_name in targeted else param.detach().half().float()
        assert torch.equal(unpacked[param_name], expected), param_name


def test_packed_int4_is_two_weights_per_byte_and_bytes_are_deterministic():
    model = tiny_model("llama")
    seed = strategy("seed", PACKABLE["seed"])
    tensors, metadata = pack_model(model, seed, "tiny")
    for weight in targeted_weights(model, seed):
        assert tensors[f"{weight.name}.codes"].numel() == (weight.numel + 1) // 2
        assert tensors[f"{weight.name}.codes"].dtype == torch.uint8
    assert packed_bytes(tensors, metadata) == packed_bytes(*pack_model(tiny_model("llama"), seed, "tiny"))


def test_strategies_that_quantize_alike_share_one_packed_model():
    plain = strategy("seed_absmax_int4", PACKABLE["seed"])
    protected = strategy("seed_keep5", PACKABLE["seed"], {"top_percent": 5})
    assert packed_bytes(*pack_model(tiny_model("gpt2"), plain, "m")) == packed_bytes(
        *pack_model(tiny_model("gpt2"), protected, "m")
    )


def test_unpackable_strategy_is_refused_in_one_line():
    gptq = parse_strategy("gptq_int4", {"quantizer": "gptq", "bits": 4})
    with pytest.raises(QuantFairnessError, match="strategy 'gptq_int4' cannot be packed"):
        pack_model(tiny_model("llama"), gptq, "tiny")


def test_patch_index_is_the_smaller_of_bitmap_and_indices():
    model = tiny_model("llama")
    few = strategy("few", PACKABLE["seed"], {"top_percent": 1})
    many = strategy("many", PACKABLE["seed"], {"top_percent": 30, "layers": [0]})
    few_tensors, few_meta = patch_tensors(model, few)
    many_tensors, many_meta = patch_tensors(model, many)
    # Norm gains (all 1.0) are the largest weights of a random model: kept whole.
    matrices = [entry for entry in few_meta["tensors"].values() if len(entry["shape"]) == 2]
    assert matrices and {entry["index"] for entry in matrices} == {"indices"}
    kinds = {name: entry["index"] for name, entry in many_meta["tensors"].items()}
    assert kinds["model.layers.0.mlp.up_proj.weight"] == "whole"
    assert kinds["model.layers.1.mlp.up_proj.weight"] == "bitmap"
    for tensors, meta in ((few_tensors, few_meta), (many_tensors, many_meta)):
        for name, entry in meta["tensors"].items():
            index = tensors.get(f"{name}.index")
            kept = entry["kept"]
            if entry["index"] == "bitmap":
                assert index.numel() * 8 >= torch.Size(entry["shape"]).numel() and index.numel() <= 4 * kept
            elif entry["index"] == "indices":
                assert index.numel() == kept and 4 * kept < math.ceil(torch.Size(entry["shape"]).numel() / 8)
            assert tensors[f"{name}.values"].dtype == torch.float16


@pytest.mark.parametrize("family", ["gpt2", "llama"])
@pytest.mark.parametrize("name", ["seed", "rtn4_asym_g24"])
@pytest.mark.parametrize("percent", [1, 5])  # 1%: int32 indices, 5%: mostly bitmaps
def test_pack_then_apply_rebuilds_the_fair_model_exactly(tmp_path, family, name, percent):
    folder = model_folder(tmp_path, family)
    keep = strategy(name, PACKABLE[name], {"top_percent": percent, "layers": [1]})
    manifest = pack(folder, keep, family, tmp_path / "patch", tmp_path / "quantized")
    assert manifest["protected_parameters"] > 0
    kinds = {entry["index"] for entry in read_metadata(tmp_path / "patch" / PATCH_FILE)["tensors"].values()}
    assert "whole" in kinds and (percent == 5 or "indices" in kinds)
    assert json.loads((tmp_path / "patch" / MANIFEST).read_text()) == manifest
    apply_patch(tmp_path / "quantized", tmp_path / "patch", tmp_path / "fair")
    rebuilt, _ = load_model(tmp_path / "fair")
    original = load_model(folder)[0]
    expected = load_model(folder)[0]
    apply_strategy(expected, strategy(name, PACKABLE[name]))
    targeted = targeted_weights(original, keep)
    masks = protection_masks(original, keep, targeted)
    targeted_names = {weight.name for weight in targeted}
    original_params = dict(original.named_parameters())
    for param_name, param in expected.named_parameters():
        want = param.detach().clone() if param_name in targeted_names else param.detach().half().float()
        if param_name in masks:
            want[masks[param_name]] = original_params[param_name].detach()[masks[param_name]].half().float()
        assert torch.equal(dict(rebuilt.named_parameters())[param_name], want), param_name


def test_a_patch_for_a_packed_model_on_disk_reads_its_hash_instead_of_packing_it_again(tmp_path, monkeypatch):
    folder, keep = packed_pair(tmp_path)
    first = (tmp_path / "patch" / MANIFEST).read_bytes()
    base_hash = sha256_file(tmp_path / "quantized" / PACKED_FILE)

    def no_second_packing(*args, **kwargs):
        raise AssertionError("the packed model was packed again")

    monkeypatch.setattr("quant_fairness.artifacts.fairness_patch.pack_model", no_second_packing)
    pack(folder, keep, "llama", tmp_path / "again", packed_base=tmp_path / "quantized" / PACKED_FILE)
    assert (tmp_path / "again" / MANIFEST).read_bytes() == first  # the same manifest, byte for byte
    assert json.loads(first)["base_sha256"] == base_hash
    # A base quantized another way would make the patch rebuild another model: refused.
    other = strategy("rtn", PACKABLE["rtn4_sym_g16"], {"top_percent": 5})
    with pytest.raises(QuantFairnessError, match="quantized by .* not 'llama' by strategy 'rtn'"):
        pack(folder, other, "llama", tmp_path / "wrong", packed_base=tmp_path / "quantized" / PACKED_FILE)
    assert not (tmp_path / "wrong").exists()


def packed_pair(tmp_path, family="llama", protect=None):
    folder = model_folder(tmp_path, family)
    keep = strategy("seed", PACKABLE["seed"], protect or {"top_percent": 5})
    pack(folder, keep, family, tmp_path / "patch", tmp_path / "quantized")
    return folder, keep


def test_apply_refuses_a_corrupted_patch_and_writes_nothing(tmp_path):
    packed_pair(tmp_path)
    patch_file = tmp_path / "patch" / PATCH_FILE
    data = bytearray(patch_file.read_bytes())
    data[-3] ^= 0xFF
    patch_file.write_bytes(bytes(data))
    with pytest.raises(QuantFairnessError, match="patch .* has SHA-256") as error:
        apply_patch(tmp_path / "quantized", tmp_path / "patch", tmp_path / "fair")
    assert "\n" not in str(error.value)
    assert not (tmp_path / "fair").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_apply_refuses_a_base_the_patch_was_not_made_for(tmp_path):
    folder, _ = packed_pair(tmp_path)
    other = strategy("rtn", PACKABLE["rtn4_sym_g16"], {"top_percent": 5})
    pack(folder, other, "llama", None, tmp_path / "other-quantized")
    with pytest.raises(QuantFairnessError, match="base model .* not the file this patch was made for"):
        apply_patch(tmp_path / "other-quantized", tmp_path / "patch", tmp_path / "fair")
    assert not (tmp_path / "fair").exists()


def test_apply_refuses_a_missing_or_malformed_manifest(tmp_path):
    packed_pair(tmp_path)
    (tmp_path / "patch" / MANIFEST).write_text("{not json")
    with pytest.raises(QuantFairnessError, match="manifest.json is not valid JSON"):
        patched_weights(tmp_path / "quantized", tmp_path / "patch")
    (tmp_path / "patch" / MANIFEST).unlink()
    with pytest.raises(QuantFairnessError, match="has no manifest.json"):
        patched_weights(tmp_path / "quantized", tmp_path / "patch")


def test_a_strategy_without_protection_has_no_patch(tmp_path):
    folder = model_folder(tmp_path, "llama")
    with pytest.raises(QuantFairnessError, match="protects no weight"):
        pack(folder, strategy("seed", PACKABLE["seed"]), "llama", tmp_path / "patch")
    manifest = pack(folder, strategy("seed", PACKABLE["seed"]), "llama", None, tmp_path / "quantized")
    assert "patch_sha256" not in manifest
    assert set(load_file(tmp_path / "quantized" / PACKED_FILE)) and (tmp_path / "quantized" / "config.json").is_file()


def test_low_rank_correction_shrinks_the_quantization_error_with_rank():
    torch.manual_seed(0)
    original = {"w": torch.randn(48, 32), "gain": torch.ones(32)}
    quantized = {"w": (original["w"] * 2).round() / 2, "gain": torch.full((32,), 0.75)}
    errors = []
    for rank, correction in low_rank_corrections(original, quantized, ["w", "gain"], (1, 4, 16, 32)).items():
        assert set(correction) == {"w.a", "w.b"}  # vectors stay uncorrected
        assert correction["w.a"].shape == (48, rank) and correction["w.a"].dtype == torch.float16
        corrected = corrected_weights(quantized, correction)
        assert torch.equal(corrected["gain"], quantized["gain"])
        errors.append(float((corrected["w"] - original["w"]).norm()))
    assert errors == sorted(errors, reverse=True) and errors[0] < float((quantized["w"] - original["w"]).norm())
    assert errors[-1] < 1e-2  # full rank: only the FP16 rounding of the factors is left


def test_corrections_of_several_ranks_at_once_are_each_rank_alone():
    """The rule corrects every rank in one job from one Gram decomposition per matrix: each
    rank's factors must be the bytes it gets in a job of its own."""
    generator = torch.Generator().manual_seed(3)
    original = {"tall": torch.randn(96, 40, generator=generator), "wide": torch.randn(40, 96, generator=generator)}
    quantized = {name: (weight * 3).round() / 3 for name, weight in original.items()}
    together = low_rank_corrections(original, quantized, sorted(original), (8, 32))
    for rank in (8, 32):
        alone = low_rank_corrections(original, quantized, sorted(original), [rank])[rank]
        assert together[rank].keys() == alone.keys()
        assert all(torch.equal(together[rank][key], alone[key]) for key in alone)


@pytest.mark.parametrize("shape", [(300, 40), (40, 300)])
def test_top_singular_factors_are_the_truncated_svd(shape):
    """Only the top ranks, from the smaller Gram matrix: the same rank-r product as a full SVD."""
    error = torch.randn(*shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    a, b = top_singular_factors(error, 8)
    u, s, vh = torch.linalg.svd(error, full_matrices=False)
    assert torch.allclose(a @ b, (u[:, :8] * s[:8]) @ vh[:8], atol=1e-10)
    assert torch.allclose(b @ b.T, torch.eye(8, dtype=torch.float64), atol=1e-10)  # orthonormal rows
    assert (b.gather(1, b.abs().argmax(dim=1, keepdim=True)) > 0).all()  # the sign convention


@pytest.mark.parametrize("shape", [(40, 24), (24, 40)])
def test_directions_without_error_are_zero_not_an_arbitrary_null_space_basis(shape):
    generator = torch.Generator().manual_seed(2)
    rank_two = torch.randn(shape[0], 2, generator=generator, dtype=torch.float64) @ torch.randn(
        2, shape[1], generator=generator, dtype=torch.float64
    )
    a, b = top_singular_factors(rank_two, 4)
    assert torch.allclose(a @ b, rank_two, atol=1e-10)
    assert (a[:, 2:] == 0).all() and (b[2:] == 0).all() and (b[:2].abs().sum(1) > 0).all()


def test_low_rank_factors_are_byte_identical_across_thread_counts():
    """MKL's float32 SVD gives other last bits on 1 and 2 threads; the correction's FP16 factors
    must not depend on how many threads a job gets."""
    generator = torch.Generator().manual_seed(0)
    original = {f"w{k}": torch.randn(576, 1536, generator=generator) for k in range(4)}
    quantized = {name: (weight * 4).round() / 4 for name, weight in original.items()}
    factors = []
    threads = torch.get_num_threads()
    try:
        for count in (1, 2):
            torch.set_num_threads(count)
            correction = low_rank_corrections(original, quantized, sorted(original), ranks=[8])[8]
            factors.append(b"".join(correction[key].numpy().tobytes() for key in sorted(correction)))
    finally:
        torch.set_num_threads(threads)
    assert factors[0] == factors[1]
