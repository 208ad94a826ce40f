"""Quantizers backed by real quantization libraries (gguf, bitsandbytes, HQQ, optimum-quanto).

Like quant_fairness.quantize.quantizers, each function takes a 2-D weight in nn.Linear layout
(out_features, in_features) and returns (dequantized tensor in the input dtype, storage bits),
but here storage bits are the bytes of the tensors the library itself stores (packed codes,
scales, zero points, nested statistics), so a format's real overhead is what gets counted.
The libraries are optional: each is imported when first used.

    w_hat, bits = gguf_quantize(w, "Q4_0")                 # llama.cpp's block format
    w_hat, bits = bnb_4bit(w, "nf4", blocksize=64, double_quant=True)
    w_hat, bits = bnb_int8_weight_only(w)                  # LLM.int8()'s weight, without its matmul
    w_hat, bits = hqq_quantize(w, bits=4, group_size=64)
    w_hat, bits = quanto_quantize(w, "qint4", group_size=128)
    bits_by_name = use_llm_int8(model, ["model.layers.0.mlp.up_proj.weight"])  # real LLM.int8() layers
"""

import importlib
import logging

import numpy as np
import torch

from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.strategies import BITS, GGUF_TYPES, QUANTO_FORMATS

BNB_4BIT_TYPES = ("nf4", "fp4")
BNB_BLOCKSIZES = (32, 64, 128, 256, 512, 1024, 2048, 4096)
# HQQLinear's default compute dtype: an HQQ model keeps its scales and zero points in it.
HQQ_META_DTYPE = torch.float16


def require(package, pip_name):
    """Import an optional library, or fail with one line saying how to install it."""
    try:
        return importlib.import_module(package)
    except ModuleNotFoundError as err:
        # A dependency missing inside an installed library is a different problem: let it surface.
        if err.name is None or not package.startswith(err.name):
            raise
        raise QuantFairnessError(
            f"quantizer {pip_name!r} needs the package {package} (pip install {pip_name})"
        ) from None


def stored_bits(*tensors):
    """Bits of the tensors as stored; quanto's tensors are wrappers whose bytes live in inner tensors."""
    total = 0
    for t in tensors:
        if hasattr(t, "__tensor_flatten__"):
            names, _ = t.__tensor_flatten__()
            total += stored_bits(*(getattr(t, name) for name in names))
        else:
            total += t.numel() * t.element_size() * 8
    return total


def _one_of(what, value, allowed):
    if value not in allowed:
        raise QuantFairnessError(f"unknown {what} {value!r}; expected one of {', '.join(map(str, allowed))}")


def _groups_fit(weight, group_size, what):
    # Groups must not straddle two output rows, or one scale would serve two channels.
    if weight.shape[1] % group_size:
        raise QuantFairnessError(
            f"{what} needs the input axis to be a multiple of {group_size}; weight shape is {tuple(weight.shape)}"
        )


def gguf_quantize(weight, type_name):
    """llama.cpp's block quantization (GGUF `type_name`), via the gguf package's reference code."""
    _one_of("GGUF type", type_name, GGUF_TYPES)
    gguf = require("gguf", "gguf")
    qtype = gguf.GGMLQuantizationType[type_name]
    block_size, _ = gguf.GGML_QUANT_SIZES[qtype]
    _groups_fit(weight, block_size, f"GGUF {type_name}")
    packed = gguf.quants.quantize(weight.detach().float().cpu().numpy(), qtype)
    dequantized = gguf.quants.dequantize(packed, qtype)
    return torch.from_numpy(np.ascontiguousarray(dequantized)).to(weight.device, weight.dtype), packed.nbytes * 8


def bnb_4bit(weight, quant_type, blocksize=64, double_quant=False):
    """bitsandbytes' 4-bit NF4/FP4 (QLoRA's Linear4bit weight); `double_quant` also quantizes the absmax."""
    _one_of("bitsandbytes 4-bit type", quant_type, BNB_4BIT_TYPES)
    _one_of("bitsandbytes blocksize", blocksize, BNB_BLOCKSIZES)
    functional = require("bitsandbytes.functional", "bitsandbytes")
    packed, state = functional.quantize_4bit(
        weight.contiguous(), blocksize=blocksize, compress_statistics=double_quant, quant_type=quant_type
    )
    # state.code (the 16 NF4/FP4 values, and the 256-entry map of the nested state) is a
    # constant of the format, the same for every tensor, so it is not counted.
    bits = stored_bits(packed, state.absmax)
    if double_quant:
        bits += stored_bits(state.state2.absmax, state.offset)
    return functional.dequantize_4bit(packed, state).to(weight.dtype), bits


def bnb_int8_weight_only(weight):
    """bitsandbytes' row-wise absmax int8 weight: what a Linear8bitLt layer stores."""
    functional = require("bitsandbytes.functional", "bitsandbytes")
    # Linear8bitLt quantizes an FP16 copy of the weight; doing the same gives its exact codes.
    codes, scales, _ = functional.int8_vectorwise_quant(weight.detach().to(torch.float16).contiguous())
    return functional.int8_vectorwise_dequant(codes, scales).to(weight.dtype), stored_bits(codes, scales)


def _linear_weight(module, name):
    """The module's weight as (out, in); GPT-2's Conv1D stores it transposed."""
    if type(module) is torch.nn.Linear:
        return module.weight.detach()
    if type(module).__name__ == "Conv1D":
        return module.weight.detach().t().contiguous()
    raise QuantFairnessError(f"LLM.int8() replaces Linear or Conv1D layers; {name} belongs to {type(module).__name__}")


def _not_the_cast_notice(record):
    return "inputs will be cast" not in record.getMessage()


def use_llm_int8(model, names, threshold=6.0):
    """Swap the layers owning the weights `names` for bitsandbytes' LLM.int8() layers, in place.

    In eval mode (set here) a Linear8bitLt multiplies int8 activations by int8 weights and keeps
    input columns with a value above `threshold` in FP16 (threshold 0: no outlier columns).
    In train mode on CPU it instead dequantizes the weight and multiplies in float, which is
    only bnb_int8_weight_only. Returns {name: storage bits} of each layer's int8 codes and scales.
    """
    nn = require("bitsandbytes.nn", "bitsandbytes")
    # bitsandbytes logs this expected float32 -> float16 cast once per layer per forward pass.
    logging.getLogger("bitsandbytes.autograd._functions").addFilter(_not_the_cast_notice)
    params = dict(model.named_parameters())
    storage = {}
    for name in names:
        if name not in params or not name.endswith(".weight"):
            raise QuantFairnessError(f"{type(model).__name__} has no weight parameter named {name!r}")
        path = name.removesuffix(".weight")
        parent, _, child = path.rpartition(".")
        module = model.get_submodule(path)
        weight = _linear_weight(module, name)
        # Built on the meta device so no throwaway weight is initialized (nor the RNG advanced).
        layer = nn.Linear8bitLt(
            weight.shape[1],
            weight.shape[0],
            bias=module.bias is not None,
            has_fp16_weights=False,
            threshold=threshold,
            device="meta",
        )
        # Int8Params quantizes only when moved from the CPU, so it starts there on any device.
        layer.weight = nn.Int8Params(weight.cpu(), requires_grad=False, has_fp16_weights=False)
        if module.bias is not None:
            layer.bias = torch.nn.Parameter(module.bias.detach(), requires_grad=False)
        layer = layer.to("cpu")  # moving a float Int8Params to a device is what quantizes it
        storage[name] = stored_bits(layer.weight.CB, layer.weight.SCB)
        setattr(model.get_submodule(parent), child, layer.to(weight.device))
    model.eval()
    return storage


def hqq_quantize(weight, bits, group_size=64):
    """HQQ (half-quadratic, calibration-free) asymmetric quantization in groups along the input axis."""
    _one_of("HQQ bit width", bits, BITS["hqq"])
    if group_size % 8:
        raise QuantFairnessError(f"HQQ group size must be a multiple of 8, got {group_size}")
    _groups_fit(weight, group_size, "HQQ")
    quantize = require("hqq.core.quantize", "hqq")
    # HQQ's own standard settings (optimize=True, and round_zero for 4 bits), as HQQLinear uses them.
    params = quantize.BaseQuantizeConfig(nbits=bits, group_size=group_size, axis=1)["weight_quant_params"]
    # HQQ optimizes in float32 on CPU whatever the input dtype.
    packed, meta = quantize.Quantizer.quantize(weight.detach(), device="cpu", **params)
    meta["compute_dtype"] = HQQ_META_DTYPE
    packed, meta = quantize.Quantizer.cuda(packed, meta, device="cpu")  # casts scale and zero as HQQLinear does
    dequantized = quantize.Quantizer.dequantize(packed, meta)
    return dequantized.to(weight.device, weight.dtype), stored_bits(packed, meta["scale"], meta["zero"])


def quanto_quantize(weight, qtype_name, group_size=128):
    """optimum-quanto's weight quantization as its QLinear does it.

    qint8 is symmetric per output row (quanto takes no group size for 8 bits); qint4 is
    asymmetric in groups of `group_size` along the input axis. Scales and shifts keep the
    weight's dtype, so an FP32 weight pays 32-bit scales.
    """
    _one_of("quanto type", qtype_name, QUANTO_FORMATS)
    quanto = require("optimum.quanto", "optimum-quanto")
    qtype = quanto.qtypes[qtype_name]
    w = weight.detach()
    if qtype.bits == 8:
        scale = quanto.AbsmaxOptimizer()(w, qtype=qtype, axis=0)
        shift = group_size = None
    else:
        _groups_fit(weight, group_size, f"quanto {qtype_name}")
        scale, shift = quanto.MaxOptimizer()(w, qtype=qtype, axis=0, group_size=group_size)
    # optimized=False keeps quanto's portable layout instead of a device-specific kernel layout
    # (TinyGemm for bfloat16 on CPU), so the result does not depend on where it runs.
    qweight = quanto.quantize_weight(
        w, qtype=qtype, axis=0, scale=scale, shift=shift, group_size=group_size, optimized=False
    )
    return qweight.dequantize().to(weight.dtype), stored_bits(qweight)
