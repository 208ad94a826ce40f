"""Packed quantized models on disk (seed 000's INT4/INT8 artifact): integer codes at their
real width, two 4-bit codes per byte, with their scales and zero points.

    packed = pack_model(model, strategy)            # {name: tensor}, metadata
    write_packed(packed, "out/quantized/", model_dir="resources/models/smollm2-135m")
    tensors = unpack_file("out/quantized/quantized.safetensors")   # {name: float32 tensor}

Packing covers the quantizers whose codes this project computes itself: the seed's
per-tensor absmax INT4 and round-to-nearest at 4 or 8 bits (per tensor, channel or
group, symmetric or not). Unpacking reproduces the simulated quantizer's weights bit for
bit (`quant_fairness.quantize.apply.apply_strategy` without protection); parameters the
strategy does not quantize are stored in FP16. The safetensors metadata is one key
holding sorted JSON, so the same model and strategy give the same bytes and hash.
"""

import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save

from quant_fairness.atomic import atomic_directory
from quant_fairness.data.layers import weight_map
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import linear_layout, targeted_weights
from quant_fairness.quantize.quantizers import (
    dequantize_codes,
    expand_groups,
    quantize_codes,
    rtn_grid,
    seed_absmax_codes,
)
from quant_fairness.quantize.strategies import check_packable

PACKED_FILE = "quantized.safetensors"
METADATA_KEY = "quant_fairness"
# Files a rebuilt model needs besides its weights (config, tokenizer, generation settings).
MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.model",
    "vocab.json",
    "merges.txt",
    "chat_template.jinja",
)


def pack_nibbles(codes):
    """Unsigned 4-bit codes (uint8 values 0..15), two per byte, low nibble first."""
    flat = codes.flatten().to(torch.uint8)
    if flat.numel() % 2:
        flat = torch.cat([flat, flat.new_zeros(1)])
    return flat[0::2] | (flat[1::2] << 4)


def unpack_nibbles(packed, numel):
    pairs = torch.stack([packed & 0x0F, packed >> 4], dim=1).flatten()
    return pairs[:numel]


def _store_codes(codes, bits, offset):
    """Integer codes (floats) shifted to unsigned and packed at their width."""
    unsigned = (codes + offset).to(torch.uint8)
    return pack_nibbles(unsigned) if bits == 4 else unsigned.flatten()


def _load_codes(stored, bits, offset, shape):
    numel = int(torch.Size(shape).numel())
    unsigned = unpack_nibbles(stored, numel) if bits == 4 else stored
    return (unsigned.float() - offset).reshape(shape)


def _pack_weight(strategy, weight, tensor):
    """({suffix: tensor}, metadata) of one quantized weight."""
    if strategy.quantizer == "seed_absmax":
        codes, scale = seed_absmax_codes(tensor)
        entry = {"kind": "seed_absmax", "bits": 4, "offset": 8, "shape": list(tensor.shape)}
        return {"codes": _store_codes(codes, 4, 8), "scale": scale.reshape(1)}, entry
    bits = strategy.bits_for(weight.component)
    linear = linear_layout(weight, tensor)
    per_tensor = strategy.granularity == "tensor"
    group_size = strategy.group_size if strategy.granularity == "group" else None
    scale, zero, size = rtn_grid(linear, bits, group_size, strategy.symmetric, per_tensor)
    cols = linear.shape[1]
    codes = quantize_codes(
        linear.float(), expand_groups(scale, size, cols), expand_groups(zero, size, cols), bits, strategy.symmetric
    )
    offset = 2 ** (bits - 1) if strategy.symmetric else 0
    entry = {
        "kind": "rtn",
        "bits": bits,
        "offset": offset,
        "shape": list(linear.shape),
        "group_width": size,
        "transposed": linear is not tensor,
    }
    stored = {"codes": _store_codes(codes, bits, offset), "scale": scale.half()}
    if not strategy.symmetric:
        stored["zero"] = zero.to(torch.uint8)
    return stored, entry


@torch.no_grad()
def pack_model(model, strategy, model_name):
    """(tensors, metadata) of `model` quantized by `strategy`'s quantizer (its protection is
    the patch's business, see quant_fairness.patch)."""
    check_packable(strategy)
    params = dict(model.named_parameters())
    targeted = {weight.name for weight in targeted_weights(model, strategy)}
    tensors, entries = {}, {}
    for weight in weight_map(model):
        tensor = params[weight.name].detach()
        if weight.name in targeted:
            stored, entry = _pack_weight(strategy, weight, tensor)
            tensors.update({f"{weight.name}.{suffix}": value.contiguous() for suffix, value in stored.items()})
        else:
            tensors[weight.name] = tensor.half().contiguous()
            entry = {"kind": "fp16", "shape": list(tensor.shape)}
        entries[weight.name] = entry
    # The quantizer alone: every strategy that quantizes alike shares one packed model,
    # which its patch names by hash.
    metadata = {"model": model_name, "quantizer": strategy.quantizer_spec, "tensors": entries}
    return tensors, metadata


def packed_bytes(tensors, metadata):
    """The safetensors file's bytes: deterministic for the same tensors and metadata."""
    return save(tensors, metadata={METADATA_KEY: json.dumps(metadata, sort_keys=True)})


def read_metadata(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        header = handle.metadata() or {}
    if METADATA_KEY not in header:
        raise QuantFairnessError(f"{path} is not a quant-fairness file: its metadata has no {METADATA_KEY!r} key")
    return json.loads(header[METADATA_KEY])


def _unpack_weight(tensors, name, entry):
    if entry["kind"] == "fp16":
        return tensors[name].float()
    if entry["kind"] == "seed_absmax":
        codes = _load_codes(tensors[f"{name}.codes"], 4, entry["offset"], entry["shape"])
        return codes * tensors[f"{name}.scale"].float()[0]
    rows, cols = entry["shape"]
    scale = expand_groups(tensors[f"{name}.scale"].float(), entry["group_width"], cols)
    zero = tensors.get(f"{name}.zero")
    zero = torch.zeros_like(scale) if zero is None else expand_groups(zero.float(), entry["group_width"], cols)
    codes = _load_codes(tensors[f"{name}.codes"], entry["bits"], entry["offset"], entry["shape"])
    weight = dequantize_codes(codes, scale, zero).contiguous()
    return weight.t().contiguous() if entry["transposed"] else weight


def unpack_file(path):
    """{parameter name: float32 tensor} of a packed model file."""
    metadata = read_metadata(path)
    tensors = load_file(str(path))
    return {name: _unpack_weight(tensors, name, entry) for name, entry in metadata["tensors"].items()}


def quantized_names(path):
    """Names of the parameters a packed file holds as integer codes."""
    return [name for name, entry in read_metadata(path)["tensors"].items() if entry["kind"] != "fp16"]


def copy_model_files(model_dir, destination):
    """The config and tokenizer files of a model folder, so a rebuilt model loads on its own."""
    for name in MODEL_FILES:
        if (Path(model_dir) / name).is_file():
            shutil.copy2(Path(model_dir) / name, Path(destination) / name)


def write_packed(data, destination, model_dir):
    """Write a packed model folder: PACKED_FILE plus the model's config and tokenizer files."""
    with atomic_directory(destination) as folder:
        (folder / PACKED_FILE).write_bytes(data)
        copy_model_files(model_dir, folder)
