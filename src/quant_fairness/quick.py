"""The seed tool's Python API (seed 002), on any Hugging Face causal LM held in memory.

    from transformers import AutoModelForCausalLM, AutoTokenizer
    from quant_fairness import quick_sweep, simulate_int4

    model = AutoModelForCausalLM.from_pretrained("resources/models/smollm2-135m")
    tokenizer = AutoTokenizer.from_pretrained("resources/models/smollm2-135m")
    layers = quick_sweep(model, tokenizer, top_n=3)     # e.g. [0, 9, 11]; model unchanged
    simulate_int4(model, protect_layers=set(layers))    # quantized in place

Semantics, as in the seed: INT4 is the seed's per-tensor absmax (scale = max|W| / 7,
codes in [-8, 7]) on every parameter whose name contains "weight", biases kept, and a
protected layer keeps all its weights at their original value. Unlike the seed,
`quick_sweep` chooses blocks on the corpus's selection split, by ΔBPB (bits per byte,
comparable across tokenizers) rather than D% on one sentence, and grows the set
greedily (the best block, then the block that helps most given it, ...) instead of
taking the best `top_n` single blocks, which ignores how they interact. It needs the
splits the workflow builds (`snakemake --cores 2 resources/corpus/selection.jsonl`).
"""

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.sweep import sweep
from quant_fairness.quantize.apply import apply_strategy
from quant_fairness.quantize.strategies import Protection, Strategy

SEED_GROUPS = {"high": ["en", "de", "fr"], "low": ["zh", "he", "ar"]}


def seed_int4(protect_layers=()):
    """The seed's INT4 quantizer with whole blocks protected, as a strategy."""
    layers = tuple(sorted(protect_layers))
    return Strategy("seed_int4", "seed_absmax", protection=Protection(layers=layers))


def simulate_int4(model, protect_layers=()):
    """Quantize `model` in place with the seed's INT4, keeping `protect_layers` (block indices,
    negative from the end) at their original weights; returns the storage accounting."""
    return apply_strategy(model, seed_int4(protect_layers))


def quick_sweep(
    model,
    tokenizer,
    top_n=3,
    selection="resources/corpus/selection.jsonl",
    groups=None,
    segments=8,
    noise_floor=None,
):
    """The `top_n` blocks to keep in full precision, chosen on the selection split; the model
    is left as it was. `groups`: {"high": [...], "low": [...]}, default the seed's six languages.
    `noise_floor` (bits/byte): None measures it (the selection split rescored in bfloat16), so
    that no block is ranked on a high-group loss below it.
    To measure the chosen blocks on held-out text, use quant_fairness.evaluate.sweep.sweep."""
    groups = groups or SEED_GROUPS
    languages = [*groups["high"], *groups["low"]]
    selection_rows = first_segments(read_split(selection, languages), languages, segments)
    result = sweep(
        model, tokenizer, selection_rows, None, seed_int4(), groups, max_layers=top_n, noise_floor=noise_floor
    )
    if not result.chosen:
        raise QuantFairnessError(result.note)
    return list(result.chosen)
