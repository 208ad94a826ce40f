"""A low-rank correction of the quantization error: seed 000's "PEFT-style adapter", made
real and measured.

For every quantized matrix W with quantized weights Ŵ, the error E = W − Ŵ is replaced by
its best rank-r approximation A·B from the truncated SVD (A = U_r·diag(S_r), B = V_rᵀ),
both stored in FP16; the corrected weight is Ŵ + A·B. Vectors (norm gains quantized by
the seed's INT4) stay uncorrected.

    quantized = unpack_file("results/artifacts/m/seed_absmax_int4/quantized/quantized.safetensors")
    correction = low_rank_correction(original, quantized, quantized_names, rank=8)   # {name.a, name.b}
    weights = corrected_weights(quantized, correction)
"""

import torch


@torch.no_grad()
def low_rank_correction(original, quantized, names, rank):
    """{f"{name}.a": (rows, r) FP16, f"{name}.b": (r, columns) FP16} for each 2-D weight in
    `names`, in the parameter's own layout (GPT-2's Conv1D stores (in, out))."""
    correction = {}
    for name in names:
        if quantized[name].dim() != 2:
            continue
        # MKL's float32 SVD changes the factors' last bits with the thread count; in float64 the
        # changes lie far below FP16's resolution, so the stored factors do not depend on it.
        error = original[name].double() - quantized[name].double()
        u, s, vh = torch.linalg.svd(error, full_matrices=False)
        kept = min(rank, s.numel())
        correction[f"{name}.a"] = (u[:, :kept] * s[:kept]).half().contiguous()
        correction[f"{name}.b"] = vh[:kept].half().contiguous()
    return correction


def corrected_weights(quantized, correction):
    """The quantized weights with A·B added where the correction has a factor pair."""
    weights = dict(quantized)
    for key, a in correction.items():
        if key.endswith(".a"):
            name = key[: -len(".a")]
            weights[name] = quantized[name] + a.float() @ correction[f"{name}.b"].float()
    return weights
