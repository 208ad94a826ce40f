"""The weight universe of a model (seed 003): how many parameters each component and each
decoder block holds, and where each strategy's protected (kept-precision) weights fall.

    components = universe_rows("smollm2-135m", model)
    protected = protected_rows("smollm2-135m", model, strategies, salience={"seed_guided_low5": indices})

Components come from layers.weight_map (found from the model's structure, for every
supported family); a tied LM head shares the token embedding's parameters and is
counted once, under `embedding`, with a note.
"""

from collections import Counter

from quant_fairness.data.layers import lm_head_is_tied, weight_map
from quant_fairness.quantize.apply import targeted_weights
from quant_fairness.quantize.protection import protection_masks

COMPONENT_COLUMNS = ("model", "component", "layer", "parameters", "share_pct", "note")
PROTECTED_COLUMNS = ("model", "strategy", "component", "layer", "parameters", "protected", "protected_pct")


def _cells(weights):
    """Parameters per (component, layer) cell, cells in model order."""
    cells = Counter()
    for weight in weights:
        cells[(weight.component, weight.layer)] += weight.numel
    return cells


def universe_rows(model_name, model):
    weights = weight_map(model)
    total = sum(weight.numel for weight in weights)
    tied = lm_head_is_tied(model)
    rows = []
    for (component, layer), parameters in _cells(weights).items():
        note = "tied: also the LM head" if tied and component == "embedding" else ""
        rows.append(
            {
                "model": model_name,
                "component": component,
                "layer": layer,
                "parameters": parameters,
                "share_pct": 100 * parameters / total,
                "note": note,
            }
        )
    return rows


def protected_rows(model_name, model, strategies, salience):
    """Per strategy that protects anything: its protected entries per (component, layer)
    cell of the weights it quantizes. `salience`: {strategy name: indices} for the
    strategies that protect by salience."""
    rows = []
    for strategy in strategies:
        if strategy.protection.is_empty:
            continue
        targeted = targeted_weights(model, strategy)
        masks = protection_masks(model, strategy, targeted, salience.get(strategy.name))
        protected = Counter()
        for weight in targeted:
            if weight.name in masks:
                protected[(weight.component, weight.layer)] += int(masks[weight.name].sum())
        for (component, layer), parameters in _cells(targeted).items():
            kept = protected[(component, layer)]
            rows.append(
                {
                    "model": model_name,
                    "strategy": strategy.name,
                    "component": component,
                    "layer": layer,
                    "parameters": parameters,
                    "protected": kept,
                    "protected_pct": 100 * kept / parameters,
                }
            )
    return rows
