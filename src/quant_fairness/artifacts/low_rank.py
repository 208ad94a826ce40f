"""A low-rank correction of the quantization error: seed 000's "PEFT-style adapter", made
real and measured.

For every quantized matrix W with quantized weights Ŵ, the error E = W − Ŵ is replaced by
its best rank-r approximation A·B, the truncated SVD (A = U_r·diag(S_r), B = V_rᵀ), both stored
in FP16; the corrected weight is Ŵ + A·B. Vectors (norm gains quantized by the seed's INT4)
stay uncorrected. Only the top r singular pairs are computed: from the eigen-decomposition of
the smaller Gram matrix (EᵀE or EEᵀ, float64), so a 262,144 × 640 embedding costs one 640 × 640
eigenproblem instead of a full SVD. Each pair's sign is fixed (the largest entry of each row of
B positive), so the stored factors do not depend on the eigensolver's choice.

    quantized = unpack_file("results/artifacts/m/seed_absmax_int4/quantized/quantized.safetensors")
    correction = low_rank_correction(original, quantized, quantized_names, rank=8)   # {name.a, name.b}
    weights = corrected_weights(quantized, correction)
    model, tokenizer, correction = corrected_model("resources/models/m", "results/.../quantized", rank=8)
    write_correction("lowrank_r8.safetensors", correction, rank=8)
"""

import torch
from safetensors.torch import save_file

from quant_fairness.artifacts.fairness_patch import load_weights
from quant_fairness.artifacts.packing import PACKED_FILE, quantized_names, unpack_file
from quant_fairness.atomic import atomic_path
from quant_fairness.data.models import load_model

NEGLIGIBLE_SINGULAR = 1e-6  # relative to the largest singular value


def top_singular_factors(error, rank):
    """(U_r·diag(S_r), V_rᵀ) of a float64 matrix's rank-`rank` truncated SVD, from its smaller
    Gram matrix, signs fixed so the largest-magnitude entry of each row of V_rᵀ is positive."""
    rows, cols = error.shape
    kept = min(rank, rows, cols)
    tall = cols <= rows
    values, vectors = torch.linalg.eigh(error.T @ error if tall else error @ error.T)  # ascending
    singular = values[-kept:].flip(0).clamp(min=0).sqrt()
    top = vectors[:, -kept:].flip(1)
    if tall:
        b = top.T
        a = error @ b.T
    else:
        a = top * singular
        b = (top.T @ error) / torch.where(singular > 0, singular, 1.0)[:, None]
    # A direction with no error is an arbitrary vector of a null space (the Gram matrix squares
    # the spectrum, so below ~1e-6 of the largest singular value it is rounding): zeroed, so the
    # stored factors are the same on every machine.
    negligible = singular <= singular.max() * NEGLIGIBLE_SINGULAR
    a[:, negligible], b[negligible] = 0.0, 0.0
    largest = b.abs().argmax(dim=1)
    sign = torch.sign(b[torch.arange(kept), largest])
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return a * sign, b * sign[:, None]


@torch.no_grad()
def low_rank_correction(original, quantized, names, rank):
    """{f"{name}.a": (rows, r) FP16, f"{name}.b": (r, columns) FP16} for each 2-D weight in
    `names`, in the parameter's own layout (GPT-2's Conv1D stores (in, out))."""
    correction = {}
    for name in names:
        if quantized[name].dim() != 2:
            continue
        # In float64, thread counts change the factors' last bits far below FP16's resolution,
        # so the stored factors do not depend on them.
        a, b = top_singular_factors(original[name].double() - quantized[name].double(), rank)
        correction[f"{name}.a"] = a.half().contiguous()
        correction[f"{name}.b"] = b.half().contiguous()
    return correction


def corrected_weights(quantized, correction):
    """The quantized weights with A·B added where the correction has a factor pair."""
    weights = dict(quantized)
    for key, a in correction.items():
        if key.endswith(".a"):
            name = key[: -len(".a")]
            weights[name] = quantized[name] + a.float() @ correction[f"{name}.b"].float()
    return weights


def corrected_model(model_dir, base_dir, rank, dtype="float32", device="cpu"):
    """(model, tokenizer, correction): the packed model at `base_dir` plus the rank-`rank`
    correction of its error against the original at `model_dir`, loaded in `dtype` on `device`.
    The factors are computed on the CPU, as the packed file is read, on any device."""
    model, tokenizer = load_model(model_dir, dtype, device)
    original = {name: param.detach().cpu() for name, param in model.named_parameters()}
    base_file = f"{base_dir}/{PACKED_FILE}"
    quantized = unpack_file(base_file)
    correction = low_rank_correction(original, quantized, quantized_names(base_file), rank)
    load_weights(model, corrected_weights(quantized, correction), base_file)
    return model, tokenizer, correction


def write_correction(path, correction, rank):
    with atomic_path(path, suffix=".safetensors") as tmp:
        # One metadata key: safetensors writes several in a random order (bytes differ per run).
        save_file(correction, str(tmp), metadata={"rank": str(rank)})
