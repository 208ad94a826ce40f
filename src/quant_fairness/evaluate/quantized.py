"""A model quantized by a strategy and scored against the unquantized reference: what a quantize
job and `quant-fairness score --strategy` compose from quantize and evaluate.

A strategy calibrated `matched` builds one quantized model per language, each calibrated on that
language alone and scoring that language's segments; the score table is still one per (model,
strategy), so every statistic reads it unchanged, and the storage names each language's model
and their sum.

    result = quantize_and_score("resources/models/smollm2-135m", rows, strategy, reference,
                                calibration_rows=calibration, languages=["en", "de", "fr"])
    result.scores, result.storage, result.quantize_seconds, result.score_seconds
"""

import time
from dataclasses import dataclass

import torch

from quant_fairness.data.models import load_model
from quant_fairness.evaluate.divergence import ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.apply import quantize_model, targeted_weights


@dataclass(frozen=True)
class QuantizedScores:
    scores: list  # score rows, with kl_divergence and top1_agreement
    storage: dict  # storage accounting of the quantized model (of each model, for matched)
    quantize_seconds: float
    score_seconds: float


def _quantized_once(model, tokenizer, rows, strategy, reference, head, label, calibration_rows, languages, options):
    split = TokenizedSplit(model, tokenizer, rows, options["batch_tokens"])
    storage, quantize_seconds = quantize_model(
        model, tokenizer, strategy, options["salience_indices"], calibration_rows, options["batch_tokens"], languages
    )
    started = time.perf_counter()
    scores = split.score(model, label, reference, head)
    return QuantizedScores(scores, storage, quantize_seconds, time.perf_counter() - started)


def _matched_storage(storage_of):
    """One model's accounting (they share a format) with each language's model and their sum."""
    first = next(iter(storage_of.values()))
    per_language = {
        lang: {"storage_bits": storage["storage_bits"], "bits_per_weight": storage["bits_per_weight"]}
        for lang, storage in storage_of.items()
    }
    total = sum(storage["storage_bits"] for storage in storage_of.values())
    return {
        **first,
        "calibration": "matched",
        "models": len(storage_of),
        "storage_bits_all_models": total,
        "per_language": per_language,
    }


def quantize_and_score(
    model_dir,
    rows,
    strategy,
    reference,
    label,
    calibration_rows=None,
    languages=None,
    salience_indices=None,
    dtype="float32",
    device="cpu",
    batch_tokens=1024,
):
    """Load the model from `model_dir`, quantize it by `strategy` (GPTQ/AWQ calibrated on the
    `languages` of `calibration_rows`) and score `rows` against `reference`: QuantizedScores."""
    options = {"salience_indices": salience_indices, "dtype": dtype, "device": device, "batch_tokens": batch_tokens}
    model, tokenizer = load_model(model_dir, dtype, device)
    head = ReferenceHead.of(model)  # before quantizing: where the strategy changes the head, KL needs the original
    if not strategy.matched:
        return _quantized_once(
            model, tokenizer, rows, strategy, reference, head, label, calibration_rows, languages, options
        )
    # One load for all the languages' models: each starts from the original weights, kept aside on
    # the host so that a GPU holds no second copy (loading gemma's tokenizer alone takes 4 s).
    original = {
        w.name: model.get_parameter(w.name).detach().to("cpu", copy=True) for w in targeted_weights(model, strategy)
    }
    parts = {}
    for lang in dict.fromkeys(row["lang"] for row in rows):
        with torch.no_grad():
            for name, tensor in original.items():
                model.get_parameter(name).copy_(tensor)
        own = [row for row in rows if row["lang"] == lang]
        calibration = [row for row in calibration_rows or [] if row["lang"] == lang]
        parts[lang] = _quantized_once(
            model,
            tokenizer,
            own,
            strategy,
            reference,
            head,
            f"{label}, calibrated on {lang!r}",
            calibration,
            [lang],
            options,
        )
    return QuantizedScores(
        [row for part in parts.values() for row in part.scores],
        _matched_storage({lang: part.storage for lang, part in parts.items()}),
        sum(part.quantize_seconds for part in parts.values()),
        sum(part.score_seconds for part in parts.values()),
    )
