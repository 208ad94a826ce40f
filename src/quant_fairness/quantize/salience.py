"""Weight salience measured on calibration text, per language, and the protection mask it selects.

    indices, shares = salience_mask(model, tokenizer, rows, strategy, groups, batch_tokens=1024)

Methods (the seeds' "language-guided selection", made explicit):
- gradient: |g ⊙ w|, first-order estimate of the loss change if w were removed, with g
  the gradient of the summed NLL over the language's calibration segments;
- fisher: Σ g² over batches (empirical diagonal Fisher, one gradient per batch);
- activation: |w| · ‖x‖ per input channel (Wanda-style), matrix weights only.
Each language's salience is divided by its total, so a language with more tokens does
not outweigh the others; `languages: low` averages the low-resource group, `contrast`
takes the low group's mean minus the high group's (what matters to the low group more
than to the high one).
"""

import torch
from torch import nn

from quant_fairness.data.batches import batch_nll, calibration_batches
from quant_fairness.data.corpus import first_segments
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import targeted_weights
from quant_fairness.quantize.calibrated import collect_linear_statistics
from quant_fairness.quantize.protection import top_percent_masks


def _activation_salience(model, batches, targeted):
    matrices = [weight for weight in targeted if weight.is_matrix_weight]
    statistics = collect_linear_statistics(model, batches, [weight.name for weight in matrices], hessian=False)
    params = dict(model.named_parameters())
    salience = {weight.name: torch.zeros_like(params[weight.name], dtype=torch.float32) for weight in targeted}
    for weight in matrices:
        input_norm = statistics[weight.name].mean_square_input.sqrt()
        # Conv1D stores (in, out): the input channel is the row.
        scale = input_norm[None, :] if isinstance(weight.module, nn.Linear) else input_norm[:, None]
        salience[weight.name] = params[weight.name].detach().abs().float() * scale.to(params[weight.name].device)
    return salience


def _gradient_salience(model, batches, targeted, method):
    params = dict(model.named_parameters())
    chosen = [params[weight.name] for weight in targeted]
    for param in model.parameters():
        param.requires_grad_(False)
    for param in chosen:
        param.requires_grad_(True)
        param.grad = None
    fisher = [torch.zeros_like(param, dtype=torch.float32) for param in chosen]
    device = chosen[0].device
    with torch.enable_grad():
        for input_ids, attention in batches:
            nll, _ = batch_nll(model, input_ids.to(device), attention.to(device))
            nll.sum().backward()
            if method == "fisher":
                for total, param in zip(fisher, chosen, strict=True):
                    if param.grad is not None:
                        total += param.grad.float() ** 2
                    param.grad = None
    if method == "fisher":
        salience = fisher
    else:
        salience = [
            torch.zeros_like(param, dtype=torch.float32)
            if param.grad is None
            else (param.grad.float() * param.detach().float()).abs()
            for param in chosen
        ]
    for param in chosen:
        param.grad = None
        param.requires_grad_(False)
    return {weight.name: score for weight, score in zip(targeted, salience, strict=True)}


def weight_salience(model, batches, targeted, method):
    """{parameter name: float32 salience of each entry} over `batches`."""
    if method == "activation":
        return _activation_salience(model, batches, targeted)
    return _gradient_salience(model, batches, targeted, method)


def _language_weights(salience_spec, groups):
    """Weight of each language in the combined salience (negative for the contrast's high group)."""
    low, high = groups["low"], groups["high"]
    parts = {
        "low": [(low, 1)],
        "high": [(high, 1)],
        "contrast": [(low, 1), (high, -1)],
        "all": [(sorted({*low, *high}), 1)],
    }[salience_spec.languages]
    weights = {}
    for members, sign in parts:
        for lang in members:
            weights[lang] = weights.get(lang, 0.0) + sign / len(members)
    return weights


def salience_mask(model, tokenizer, rows, strategy, groups, batch_tokens=1024):
    """Flat indices of the protected entries per parameter, and each tensor's share of each language's salience.

    `rows` are calibration split rows; the first `segments` of each language are used.
    """
    spec = strategy.protection.salience
    targeted = targeted_weights(model, strategy)
    combined = {weight.name: torch.zeros(weight.numel, dtype=torch.float32) for weight in targeted}
    shares = []
    for lang, weight_of_lang in sorted(_language_weights(spec, groups).items()):
        chosen = first_segments(rows, [lang], spec.segments)
        if not chosen:
            raise QuantFairnessError(f"strategy {strategy.name!r}: no calibration segments in language {lang!r}")
        salience = weight_salience(model, calibration_batches(tokenizer, chosen, batch_tokens), targeted, spec.method)
        total = sum(float(score.sum(dtype=torch.float64)) for score in salience.values())
        if total == 0:
            raise QuantFairnessError(
                f"strategy {strategy.name!r}: {spec.method} salience is zero everywhere in {lang!r}"
            )
        for weight in targeted:
            score = salience[weight.name]
            combined[weight.name] += weight_of_lang * score.flatten().cpu() / total
            shares.append(
                {
                    "lang": lang,
                    "parameter": weight.name,
                    "component": weight.component,
                    "layer": "" if weight.layer is None else weight.layer,
                    "share": float(score.sum(dtype=torch.float64)) / total,
                }
            )
    masks = top_percent_masks([combined[weight.name] for weight in targeted], spec.top_percent)
    indices = {
        weight.name: mask.nonzero().flatten().to(torch.int32)
        for weight, mask in zip(targeted, masks, strict=True)
        if mask.any()
    }
    return indices, shares
