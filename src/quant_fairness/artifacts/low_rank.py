"""A low-rank correction of the quantization error: seed 000's "PEFT-style adapter", made
real and measured.

For every quantized matrix W with quantized weights Ŵ, the error E = W − Ŵ is replaced by
its best rank-r approximation A·B, the truncated SVD (A = U_r·diag(S_r), B = V_rᵀ), both stored
in FP16; the corrected weight is Ŵ + A·B. Vectors (norm gains quantized by the seed's INT4)
stay uncorrected. Only the top r singular pairs are computed: from the eigen-decomposition of
the smaller Gram matrix (EᵀE or EEᵀ, float64), so a 262,144 × 640 embedding costs one 640 × 640
eigenproblem instead of a full SVD, and one decomposition serves every rank. Each pair's sign
is fixed (the largest entry of each row of B positive), so the stored factors do not depend on
the eigensolver's choice.

    quantized = unpack_file("results/artifacts/m/seed_absmax_int4/quantized/quantized.safetensors")
    corrections = low_rank_corrections(original, quantized, quantized_names, ranks=[8, 32])
    weights = corrected_weights(quantized, corrections[8])           # corrections[8]: {name.a, name.b}
    model, tokenizer = load_model("resources/models/m")
    for rank, correction in corrected_models(model, "results/.../quantized", ranks=[8, 32]):
        write_correction(f"lowrank_r{rank}.safetensors", correction, rank)   # model now holds Ŵ + A·B
"""

import torch
from safetensors.torch import save_file

from quant_fairness.artifacts.fairness_patch import load_weights
from quant_fairness.artifacts.packing import PACKED_FILE, quantized_names, unpack_file
from quant_fairness.atomic import atomic_path

NEGLIGIBLE_SINGULAR = 1e-6  # relative to the largest singular value


def gram_eigen(error):
    """(eigenvalues ascending, eigenvectors) of a float64 matrix's smaller Gram matrix: EᵀE where
    it has no more columns than rows, else EEᵀ."""
    rows, cols = error.shape
    return torch.linalg.eigh(error.T @ error if cols <= rows else error @ error.T)


def top_singular_factors(error, rank, eigen=None):
    """(U_r·diag(S_r), V_rᵀ) of a float64 matrix's rank-`rank` truncated SVD, from its smaller
    Gram matrix (`eigen`: its gram_eigen, where already computed), signs fixed so the
    largest-magnitude entry of each row of V_rᵀ is positive."""
    rows, cols = error.shape
    kept = min(rank, rows, cols)
    tall = cols <= rows
    values, vectors = gram_eigen(error) if eigen is None else eigen
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
def low_rank_corrections(original, quantized, names, ranks):
    """{rank: {f"{name}.a": (rows, r) FP16, f"{name}.b": (r, columns) FP16}} for each 2-D weight
    in `names`, in the parameter's own layout (GPT-2's Conv1D stores (in, out)). Each matrix's
    Gram matrix is decomposed once for all `ranks`: each rank's factors are those it would get alone."""
    corrections = {rank: {} for rank in ranks}
    for name in names:
        if quantized[name].dim() != 2:
            continue
        error = original[name].double() - quantized[name].double()
        eigen = gram_eigen(error)
        for rank, correction in corrections.items():
            # In float64, thread counts change the factors' last bits far below FP16's resolution,
            # so the stored factors do not depend on them.
            a, b = top_singular_factors(error, rank, eigen)
            correction[f"{name}.a"] = a.half().contiguous()
            correction[f"{name}.b"] = b.half().contiguous()
    return corrections


def corrected_weights(quantized, correction):
    """The quantized weights with A·B added where the correction has a factor pair."""
    weights = dict(quantized)
    for key, a in correction.items():
        if key.endswith(".a"):
            name = key[: -len(".a")]
            weights[name] = quantized[name] + a.float() @ correction[f"{name}.b"].float()
    return weights


def corrected_models(model, base_dir, ranks):
    """Yield (rank, correction) for each of `ranks`, `model` (loaded with the original weights)
    then holding the packed model at `base_dir` plus that rank's correction of its error. All
    corrections are computed first, on the CPU as the packed file is read, from the original
    weights: each rank's model is the same as if it were loaded alone."""
    original = {name: param.detach().cpu() for name, param in model.named_parameters()}
    base_file = f"{base_dir}/{PACKED_FILE}"
    quantized = unpack_file(base_file)
    corrections = low_rank_corrections(original, quantized, quantized_names(base_file), ranks)
    for rank, correction in corrections.items():
        load_weights(model, corrected_weights(quantized, correction), base_file)
        yield rank, correction


def corrected_label(rank):
    """The packed INT4 model plus its rank-`rank` correction, as the score and size tables name it."""
    return f"int4 + low-rank r{rank}"


def write_correction(path, correction, rank):
    with atomic_path(path, suffix=".safetensors") as tmp:
        # One metadata key: safetensors writes several in a random order (bytes differ per run).
        save_file(correction, str(tmp), metadata={"rank": str(rank)})
