"""Library-backed quantizers change the weight by a bounded amount, are deterministic, count
storage from the bytes the library stores, and agree with the library's own layers."""

import copy

import pytest
import torch
import torch.nn.functional as F
from conftest import needs_package, tiny_model

from quant_fairness.data.layers import weight_map
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.backends import (
    GGUF_TYPES,
    bnb_4bit,
    bnb_int8_weight_only,
    gguf_quantize,
    hqq_quantize,
    quanto_quantize,
    require,
    use_llm_int8,
)

needs_gguf = needs_package("gguf", "gguf")
needs_bnb = needs_package("bitsandbytes", "bitsandbytes")
needs_hqq = needs_package("hqq", "hqq")
needs_quanto = needs_package("optimum.quanto", "optimum-quanto")


def test_a_missing_hard_dependency_fails_under_ci_instead_of_being_skipped(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    assert needs_package("no_such_quantizer_package", "x").args[0] is True  # skipped on a developer's machine
    monkeypatch.setenv("CI", "true")
    assert needs_package("no_such_quantizer_package", "x").args[0] is False  # runs, and fails, in CI


ROWS, COLS = 48, 256


def _weight(seed=0, rows=ROWS, cols=COLS):
    torch.manual_seed(seed)
    return torch.randn(rows, cols) * 0.05


def _rmse(a, b):
    return (a.float() - b.float()).pow(2).mean().sqrt().item()


def _one_line_error(call, *words):
    with pytest.raises(QuantFairnessError) as err:
        call()
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message
    return message


QUANTIZERS = [
    pytest.param(lambda w: gguf_quantize(w, "Q8_0"), 8.5, 0.01, id="gguf-Q8_0", marks=needs_gguf),
    pytest.param(lambda w: gguf_quantize(w, "Q4_0"), 4.5, 0.15, id="gguf-Q4_0", marks=needs_gguf),
    pytest.param(lambda w: bnb_4bit(w, "nf4"), 4.5, 0.15, id="bnb-nf4", marks=needs_bnb),
    pytest.param(lambda w: bnb_4bit(w, "fp4"), 4.5, 0.2, id="bnb-fp4", marks=needs_bnb),
    pytest.param(lambda w: bnb_4bit(w, "nf4", double_quant=True), 4.13, 0.15, id="bnb-nf4-dq", marks=needs_bnb),
    pytest.param(bnb_int8_weight_only, 8.0 + 32 / COLS, 0.01, id="bnb-int8", marks=needs_bnb),
    pytest.param(lambda w: hqq_quantize(w, 4), 4.5, 0.15, id="hqq-4", marks=needs_hqq),
    # 3-bit codes go 10 to an int32 and the 192 groups are padded to 200: 3.33 + 0.5 bits.
    pytest.param(lambda w: hqq_quantize(w, 3), 3.83, 0.3, id="hqq-3", marks=needs_hqq),
    pytest.param(lambda w: quanto_quantize(w, "qint8"), 8.0 + 32 / COLS, 0.01, id="quanto-qint8", marks=needs_quanto),
    pytest.param(lambda w: quanto_quantize(w, "qint4"), 4.5, 0.15, id="quanto-qint4", marks=needs_quanto),
]


@pytest.mark.parametrize(("quantize", "bits_per_weight", "relative_rmse"), QUANTIZERS)
def test_quantizer_changes_the_weight_by_a_bounded_amount(quantize, bits_per_weight, relative_rmse):
    w = _weight()
    q, bits = quantize(w)
    assert q.shape == w.shape and q.dtype == w.dtype
    assert not torch.equal(q, w)
    # Bounds are 1.4-1.9x the measured error relative to the weight's scale (std 0.05).
    assert _rmse(q, w) < relative_rmse * 0.05
    assert bits / w.numel() == pytest.approx(bits_per_weight, abs=0.01)


@pytest.mark.parametrize(("quantize", "bits_per_weight", "relative_rmse"), QUANTIZERS)
def test_quantizer_is_deterministic_and_keeps_half_precision(quantize, bits_per_weight, relative_rmse):
    w = _weight().half()
    first, bits = quantize(w)
    # A fresh copy with transposed strides, as a GPT-2 Conv1D weight arrives (a .t() view).
    again, bits_again = quantize(w.t().contiguous().t())
    assert first.dtype == torch.float16
    assert torch.equal(first, again) and bits == bits_again


@needs_gguf
def test_gguf_block_layout_is_llama_cpp():
    w = _weight()
    # Bytes per 32 weights: an FP16 scale (+ FP16 min for Q4_1, + 32 high bits for Q5_0) and the codes.
    block_bytes = {"Q8_0": 2 + 32, "Q5_0": 2 + 4 + 16, "Q4_1": 2 + 2 + 16, "Q4_0": 2 + 16}
    errors = {}
    for type_name in GGUF_TYPES:
        q, bits = gguf_quantize(w, type_name)
        assert bits == ROWS * COLS // 32 * block_bytes[type_name] * 8
        errors[type_name] = _rmse(q, w)
    assert errors["Q8_0"] < errors["Q5_0"] < errors["Q4_1"] < errors["Q4_0"]


@needs_gguf
def test_gguf_q8_0_is_bit_exact_with_the_reference_formula():
    # ggml-quants.c quantize_row_q8_0_ref: d = amax/127, q = roundf(x * (1/d)), stored d is FP16.
    w = _weight()
    blocks = w.reshape(-1, 32)
    d = blocks.abs().amax(dim=1, keepdim=True) / 127
    scaled = blocks * (1 / d)
    codes = torch.sign(scaled) * torch.floor(scaled.abs() + 0.5)  # roundf: halves away from zero
    expected = (codes * d.half().float()).reshape(w.shape)
    q, _ = gguf_quantize(w, "Q8_0")
    assert torch.equal(q, expected)


@needs_gguf
def test_gguf_rejects_unknown_types_and_ragged_blocks():
    _one_line_error(lambda: gguf_quantize(_weight(), "Q3_K"), "Q3_K", *GGUF_TYPES)
    _one_line_error(lambda: gguf_quantize(_weight(cols=40), "Q8_0"), "(48, 40)", "32")


@needs_bnb
def test_bnb_4bit_counts_codes_absmax_and_nested_statistics():
    w = _weight()
    blocks = ROWS * COLS // 64
    _, bits = bnb_4bit(w, "nf4", blocksize=64)
    assert bits == ROWS * COLS * 4 + blocks * 32  # FP32 absmax per block
    _, bits = bnb_4bit(w, "nf4", blocksize=64, double_quant=True)
    # 8-bit absmax per block, an FP32 absmax per 256 of those, and one FP32 offset.
    assert bits == ROWS * COLS * 4 + blocks * 8 + -(-blocks // 256) * 32 + 32


@needs_bnb
def test_bnb_rejects_unknown_types_and_blocksizes():
    _one_line_error(lambda: bnb_4bit(_weight(), "int4"), "int4", "nf4", "fp4")
    _one_line_error(lambda: bnb_4bit(_weight(), "nf4", blocksize=48), "48", "64")


def _outlier_linear():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    x = torch.randn(16, 64)
    x[:, [3, 40]] *= 25  # two input features far above the 6.0 threshold, as in the LLM.int8() paper
    return linear, x


def _llm_int8(linear, threshold):
    model = torch.nn.Sequential(copy.deepcopy(linear))
    bits = use_llm_int8(model, ["0.weight"], threshold=threshold)
    assert bits == {"0.weight": 32 * 64 * 8 + 32 * 32}  # int8 codes + an FP32 scale per row
    return model


@needs_bnb
def test_llm_int8_eval_mode_quantizes_activations_and_keeps_outliers():
    linear, x = _outlier_linear()
    with torch.no_grad():
        reference = linear(x)
        weight_only = F.linear(x, bnb_int8_weight_only(linear.weight)[0], linear.bias)
        decomposed_model = _llm_int8(linear, 6.0)
        decomposed = decomposed_model(x)
        all_int8 = _llm_int8(linear, 0.0)(x)
        # On CPU, train mode is a float matmul with the dequantized weight: weight-only int8.
        decomposed_model.train()
        assert torch.allclose(decomposed_model(x), weight_only, atol=1e-5)
    assert (decomposed - weight_only).abs().max() > 1e-3  # eval mode also quantizes the activations
    assert (decomposed - all_int8).abs().max() > 1e-2  # the threshold matters
    assert _rmse(decomposed, reference) < _rmse(all_int8, reference)  # outliers kept in FP16 help


@needs_bnb
@pytest.mark.parametrize("family", ["gpt2", "llama"])
def test_llm_int8_runs_a_tiny_model_close_to_float(family):
    model = tiny_model(family)
    names = [w.name for w in weight_map(model) if w.component in ("attention", "mlp") and w.is_matrix_weight]
    quantized = copy.deepcopy(model)
    bits = use_llm_int8(quantized, names)
    assert sorted(bits) == sorted(names)
    assert not quantized.training
    ids = torch.randint(0, 320, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(ids).logits
        logits = quantized(ids).logits
    difference = (logits - reference).abs().max().item()
    # Measured 0.0027 (GPT-2) and 0.0033 (Llama) against logits up to ~0.6: int8 rounds weights and
    # activations to ~1/254 of their row range. Leaving the square Conv1Ds untransposed: 0.15.
    assert 0 < difference < 0.01


@needs_bnb
def test_llm_int8_refuses_what_it_cannot_replace():
    model = tiny_model("gpt2")
    _one_line_error(lambda: use_llm_int8(model, ["transformer.wte.weight"]), "transformer.wte.weight", "Embedding")
    _one_line_error(lambda: use_llm_int8(model, ["transformer.h.0.attn.c_attn.bias"]), "c_attn.bias")
    _one_line_error(lambda: use_llm_int8(model, ["no.such.weight"]), "no.such.weight")


@needs_hqq
def test_hqq_matches_hqq_linear_and_is_byte_identical_across_runs():
    from hqq.core.quantize import BaseQuantizeConfig, HQQLinear

    torch.manual_seed(0)
    linear = torch.nn.Linear(COLS, ROWS)
    for bits in (4, 3):
        weight = linear.weight.detach().clone()
        config = BaseQuantizeConfig(nbits=bits, group_size=64, axis=1)
        layer = HQQLinear(linear, config, del_orig=False, compute_dtype=torch.float16, device="cpu")
        q, storage = hqq_quantize(weight, bits)
        assert torch.equal(q, layer.dequantize().float())
        assert torch.equal(q, hqq_quantize(weight, bits)[0])
    groups = ROWS * COLS // 64
    assert hqq_quantize(weight, 4)[1] == ROWS * COLS * 4 + groups * 2 * 16  # FP16 scale and zero
    # 3-bit codes are packed 10 to an int32, group rows padded to a multiple of 10.
    assert storage == -(-groups // 10) * 64 * 32 + groups * 2 * 16


@needs_hqq
def test_hqq_rejects_bad_bits_and_groups():
    _one_line_error(lambda: hqq_quantize(_weight(), 2), "2", "4", "3")
    _one_line_error(lambda: hqq_quantize(_weight(cols=96), 4, group_size=64), "(48, 96)", "64")
    _one_line_error(lambda: hqq_quantize(_weight(), 4, group_size=12), "12")


@needs_quanto
@pytest.mark.parametrize("qtype_name", ["qint8", "qint4"])
def test_quanto_matches_its_qlinear(qtype_name):
    from optimum.quanto import qtypes
    from optimum.quanto.nn import QLinear

    torch.manual_seed(0)
    linear = torch.nn.Linear(COLS, ROWS)
    with torch.no_grad():  # not inference_mode: quanto's tensors break under it
        expected = QLinear.from_module(linear, weights=qtypes[qtype_name]).qweight.dequantize()
    q, bits = quanto_quantize(linear.weight, qtype_name)
    assert torch.equal(q, expected)
    if qtype_name == "qint8":
        assert bits == ROWS * COLS * 8 + ROWS * 32  # FP32 weight: FP32 scale per row
    else:
        assert bits == ROWS * COLS * 4 + ROWS * COLS // 128 * 2 * 32  # FP32 scale and shift per group


@needs_quanto
def test_quanto_rejects_unknown_types_and_ragged_groups():
    _one_line_error(lambda: quanto_quantize(_weight(), "qfloat8"), "qfloat8", "qint8", "qint4")
    _one_line_error(lambda: quanto_quantize(_weight(cols=96), "qint4"), "(48, 96)", "128")


def test_a_missing_library_is_named_with_its_install_command():
    message = _one_line_error(lambda: require("no_such_quant_lib", "no-such-quant-lib"))
    assert message == (
        "quantizer 'no-such-quant-lib' needs the package no_such_quant_lib (pip install no-such-quant-lib)"
    )
