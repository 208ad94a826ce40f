"""The metric contract (DESIGN.md, "Metrics"): the one place these formulas are written.

Inputs are sums over a language's segments (NLL in nats, T tokens predicted, B UTF-8
bytes); each function works on numbers and on numpy arrays of bootstrap replicates.

    ppl(nll, tokens)                  exp(ΣNLL / ΣT)                     token perplexity (seed-compatible)
    bpb(nll, n_bytes)                 ΣNLL / (ΣB · ln 2)                 bits per byte, tokenizer-independent
    degradation_pct(ppl_q, ppl_b)     (PPL_q − PPL_b) / PPL_b · 100       the seed's D%
    delta_bpb(bpb_q, bpb_b)           BPB_q − BPB_b                      bits per byte lost
    relative_delta_bpb(bpb_q, bpb_b)  (BPB_q − BPB_b) / BPB_b
    ratio(num, den, floor, effect)    num / den; NaN (undefined) when den ≤ 0 or when the
                                      denominator's effect in ΔBPB is below the noise floor
    kld_bpb(kl, n_bytes)              ΣKL / (ΣB · ln 2)                  KL divergence per byte, in bits
    kld_per_token(kl, tokens)         ΣKL / ΣT                           nats per token, as llama.cpp's mean KLD
    top1_agreement(agree, tokens)     Σ agreements / ΣT                  llama.cpp's "same top p"
"""

import numpy as np


def ppl(nll, tokens):
    return np.exp(np.asarray(nll, dtype=float) / tokens)


def bpb(nll, n_bytes):
    return np.asarray(nll, dtype=float) / (np.asarray(n_bytes, dtype=float) * np.log(2))


def kld_bpb(kl, n_bytes):
    """KL divergence in bits per byte: comparable across tokenizers, like BPB."""
    return bpb(kl, n_bytes)


def kld_per_token(kl, tokens):
    return np.asarray(kl, dtype=float) / tokens


def top1_agreement(agree, tokens):
    return np.asarray(agree, dtype=float) / tokens


def degradation_pct(ppl_quantized, ppl_baseline):
    return (ppl_quantized - ppl_baseline) / ppl_baseline * 100


def delta_bpb(bpb_quantized, bpb_baseline):
    return bpb_quantized - bpb_baseline


def relative_delta_bpb(bpb_quantized, bpb_baseline):
    return (bpb_quantized - bpb_baseline) / bpb_baseline


def ratio(numerator, denominator, floor=0.0, effect=None):
    """numerator / denominator, NaN where undefined: never 1 or ∞ in its place.

    `effect` is the denominator's size in ΔBPB (bits/byte) to compare with the noise
    floor; it defaults to the denominator itself (for ratios of ΔBPB).
    """
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    effect = denominator if effect is None else np.asarray(effect, float)
    defined = (denominator > 0) & (effect >= floor)
    safe = np.where(defined, denominator, 1.0)
    return np.where(defined, numerator / safe, np.nan)


def why_undefined(label, denominator, floor=0.0, effect=None, unit="ΔBPB"):
    """The reason a point-estimate ratio is undefined, naming its denominator (`label`)."""
    effect = denominator if effect is None else effect
    if denominator <= 0:
        return f"{label} = {denominator:.3g} <= 0"
    return f"{label}: {unit} {effect:.3g} below the noise floor {floor:g} bits/byte"
