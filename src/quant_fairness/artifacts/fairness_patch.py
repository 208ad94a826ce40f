"""The fairness patch (seed 000): the weights a strategy keeps in high precision, shipped as
a delta on the packed quantized model, and the fair model rebuilt from the two.

    pack("resources/models/smollm2-135m", strategy, "smollm2-135m", "out/patch",
         quantized_dir="out/quantized")
    apply_patch("out/quantized", "out/patch", "out/fair")     # a Hugging Face model folder
    with fair_model("out/quantized", "out/patch") as (model, tokenizer): ...   # loaded, folder temporary

The patch folder holds `patch.safetensors` and `manifest.json`. Per protected tensor the
patch stores its kept values in FP16 and where they go: a bitmap (one bit per entry) or
int32 flat indices, whichever is smaller, or nothing when the whole tensor is kept. The
manifest names the model and the strategy and holds the SHA-256 of the packed quantized
model it applies to and of the patch itself. `apply_patch` checks both hashes before it
reads a tensor, writes the rebuilt model to a temporary folder and renames it into place,
so a mismatched or corrupted input leaves no output at all.
"""

import contextlib
import hashlib
import json
import math
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import AutoConfig, AutoModelForCausalLM

from quant_fairness.artifacts.packing import (
    PACKED_FILE,
    copy_model_files,
    pack_model,
    packed_bytes,
    read_metadata,
    unpack_file,
    write_packed,
)
from quant_fairness.atomic import atomic_directory
from quant_fairness.data.models import load_causal_lm, load_model
from quant_fairness.data.wheels import sha256_file
from quant_fairness.errors import QuantFairnessError
from quant_fairness.provenance import PROVENANCE, read_provenance
from quant_fairness.quantize.apply import targeted_weights
from quant_fairness.quantize.protection import protection_masks
from quant_fairness.quantize.strategies import check_packable

PATCH_FILE = "patch.safetensors"
MANIFEST = "manifest.json"
INDEX_BYTES = 4  # int32 flat indices


def _index(mask):
    """How a partly kept tensor says where its values go: ("bitmap" | "indices", uint8/int32 tensor)."""
    flat = mask.flatten()
    if math.ceil(flat.numel() / 8) <= INDEX_BYTES * int(flat.sum()):
        return "bitmap", torch.from_numpy(np.packbits(flat.numpy(), bitorder="little"))
    return "indices", flat.nonzero().flatten().to(torch.int32)


def _mask_of(kind, stored, numel):
    if kind == "bitmap":
        bits = np.unpackbits(stored.numpy(), count=numel, bitorder="little")
        return torch.from_numpy(bits.astype(bool))
    mask = torch.zeros(numel, dtype=torch.bool)
    mask[stored.long()] = True
    return mask


@torch.no_grad()
def patch_tensors(model, strategy, salience_indices=None):
    """(tensors, metadata) of the patch: the FP16 values `strategy` protects and their index."""
    params = dict(model.named_parameters())
    masks = protection_masks(model, strategy, targeted_weights(model, strategy), salience_indices)
    if not masks:
        raise QuantFairnessError(f"strategy {strategy.name!r} protects no weight: there is no patch to pack")
    tensors, entries = {}, {}
    for name, mask in masks.items():
        tensors[f"{name}.values"] = params[name].detach()[mask].half().contiguous()
        kind = "whole"
        if not bool(mask.all()):
            kind, tensors[f"{name}.index"] = _index(mask)
        entries[name] = {"index": kind, "shape": list(mask.shape), "kept": int(mask.sum())}
    return tensors, {"strategy": strategy.name, "tensors": entries}


def _digest(data):
    return hashlib.sha256(data).hexdigest()


def pack(model_dir, strategy, model_name, patch_dir=None, quantized_dir=None, salience_indices=None, packed_base=None):
    """Write the patch (when `patch_dir`) and the packed quantized model (when `quantized_dir`);
    return the manifest. The manifest holds the quantized model's hash either way: the file's at
    `packed_base` where that model is already on disk, else from packing it here."""
    if packed_base is not None and quantized_dir is not None:
        raise ValueError("pack: either write the packed model (quantized_dir) or name one on disk (packed_base)")
    check_packable(strategy)  # before the model is loaded
    if packed_base is not None:
        _check_packed_base(packed_base, strategy, model_name)
    model = load_causal_lm(model_dir)
    base = None
    if packed_base is None:
        base = packed_bytes(*pack_model(model, strategy, model_name))
    base_sha256 = _digest(base) if base is not None else sha256_file(packed_base)
    manifest = {
        "model": model_name,
        "model_weights_sha256": _model_weights_digest(model_dir),
        "strategy": json.loads(json.dumps(asdict(strategy))),  # as the manifest file holds it
        "base_file": PACKED_FILE,
        "base_sha256": base_sha256,
    }
    if patch_dir is not None:
        tensors, metadata = patch_tensors(model, strategy, salience_indices)
        patch = packed_bytes(tensors, metadata)
        manifest |= {
            "patch_file": PATCH_FILE,
            "patch_sha256": _digest(patch),
            "protected_parameters": sum(entry["kept"] for entry in metadata["tensors"].values()),
        }
        with atomic_directory(patch_dir) as folder:
            (folder / PATCH_FILE).write_bytes(patch)
            (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    if quantized_dir is not None:
        write_packed(base, quantized_dir, model_dir)
    return manifest


def _check_packed_base(path, strategy, model_name):
    """A patch names its base by hash, so the base must be what this strategy quantizes to: the
    same model, and every weight it does not protect quantized by the same spec."""
    metadata = read_metadata(path)
    if metadata["model"] != model_name or metadata["quantizer"] != json.loads(json.dumps(strategy.quantizer_spec)):
        raise QuantFairnessError(
            f"{path} holds {metadata['model']!r} quantized by {metadata['quantizer']}, not {model_name!r} by "
            f"strategy {strategy.name!r}'s {strategy.quantizer_spec}: a patch for it would rebuild another model"
        )


def _model_weights_digest(model_dir):
    """The prepared model's weights hash; None for a folder the workflow did not prepare."""
    if not (Path(model_dir) / PROVENANCE).is_file():
        return None
    return read_provenance(model_dir)["weights_sha256"]


def read_manifest(patch_dir):
    path = Path(patch_dir) / MANIFEST
    if not path.is_file():
        raise QuantFairnessError(f"patch folder {str(patch_dir)!r} has no {MANIFEST}: expected the output of `pack`")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise QuantFairnessError(f"{path} is not valid JSON ({error}): expected the manifest `pack` writes") from None
    missing = [key for key in ("base_sha256", "patch_sha256") if key not in manifest]
    if missing:
        raise QuantFairnessError(f"{path} lacks {', '.join(missing)}: expected the manifest `pack` writes with a patch")
    return manifest


def _check_hash(path, expected, what):
    if not path.is_file():
        raise QuantFairnessError(f"{what} {str(path)!r} does not exist")
    digest = sha256_file(path)
    if digest != expected:
        raise QuantFairnessError(
            f"{what} {str(path)!r} has SHA-256 {digest[:16]}…, the manifest expects {expected[:16]}…: "
            "it is corrupted or not the file this patch was made for"
        )


def patched_weights(base_dir, patch_dir):
    """{parameter name: float32 tensor} of the fair model, after both hashes are checked."""
    manifest = read_manifest(patch_dir)
    patch_path, base_path = Path(patch_dir) / PATCH_FILE, Path(base_dir) / PACKED_FILE
    _check_hash(patch_path, manifest["patch_sha256"], "patch")
    _check_hash(base_path, manifest["base_sha256"], "base model")
    weights = unpack_file(base_path)
    stored = load_file(str(patch_path))
    for name, entry in read_metadata(patch_path)["tensors"].items():
        values = stored[f"{name}.values"].float()
        if entry["index"] == "whole":
            weights[name] = values.reshape(entry["shape"])
            continue
        flat = weights[name].flatten().clone()
        flat[_mask_of(entry["index"], stored[f"{name}.index"], flat.numel())] = values
        weights[name] = flat.reshape(entry["shape"])
    return weights


def load_weights(model, weights, source):
    """Load {parameter name: tensor} into `model`, which must have exactly those parameters
    (a tied LM head is one parameter, so state_dict's strictness does not fit)."""
    expected = {name for name, _ in model.named_parameters()}
    missing, extra = sorted(expected - set(weights)), sorted(set(weights) - expected)
    if missing or extra:
        raise QuantFairnessError(
            f"{source} does not match the model's parameters: missing {missing[:3]}, unexpected {extra[:3]}"
        )
    model.load_state_dict(weights, strict=False)


def apply_patch(base_dir, patch_dir, out_dir):
    """Rebuild the fair model from the packed quantized model and the patch, as a Hugging Face
    folder (float32 safetensors, config, tokenizer) at `out_dir`."""
    weights = patched_weights(base_dir, patch_dir)
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_dir), dtype=torch.float32)
    load_weights(model, weights, f"base model {str(base_dir)!r}")
    with atomic_directory(out_dir) as folder:
        model.save_pretrained(folder, safe_serialization=True)
        copy_model_files(base_dir, folder)
    return out_dir


@contextlib.contextmanager
def fair_model(base_dir, patch_dir, dtype="float32", device="cpu"):
    """The fair model rebuilt by apply_patch into a temporary folder and loaded from it as
    (model, tokenizer), exactly as a user would load the folder `apply` writes."""
    with tempfile.TemporaryDirectory() as scratch:
        yield load_model(apply_patch(base_dir, patch_dir, f"{scratch}/fair"), dtype, device)
