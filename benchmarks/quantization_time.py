"""Quantization time and storage of each strategy on one prepared model (no scoring).

Run after the workflow has prepared the model and the corpus (run on demand, not in CI):

    python benchmarks/quantization_time.py --model gemma-3-270m
    python benchmarks/quantization_time.py --model smollm2-135m --configfile config/full.yaml --strategies all

Prints one row per strategy: seconds to quantize (calibration statistics for GPTQ/AWQ
included; a salience mask's own time in its own column), bits per weight, and the
share of parameters quantized and protected. The model is reloaded from disk for each
strategy, outside the timed part.
"""

import argparse
import time
from pathlib import Path

import torch
import yaml
from snakemake.utils import update_config

from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.plan import model_strategies
from quant_fairness.quantize.apply import quantize_model
from quant_fairness.quantize.calibration import calibration_languages
from quant_fairness.quantize.salience import salience_mask
from quant_fairness.quantize.strategies import parse_strategy


def load_config(overlay):
    config = yaml.safe_load(Path("config.yaml").read_text())
    if overlay:
        update_config(config, yaml.safe_load(Path(overlay).read_text()))
    return config


def time_strategy(model_dir, strategy, config, calibration):
    """(quantize seconds, salience seconds, storage) for one strategy on a fresh copy of the model."""
    languages = config["languages"]
    batch_tokens = config["evaluation"]["batch_tokens"]
    model, tokenizer = load_model(model_dir, config["evaluation"]["dtype"])
    salience_seconds, indices = 0.0, None
    if strategy.needs_salience:
        started = time.perf_counter()
        indices, _ = salience_mask(model, tokenizer, calibration, strategy, config["groups"], batch_tokens)
        salience_seconds = time.perf_counter() - started
    chosen = calibration_languages(strategy, config["groups"], languages)
    storage, seconds = quantize_model(model, tokenizer, strategy, indices, calibration, batch_tokens, chosen)
    return seconds, salience_seconds, storage


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="gemma-3-270m")
    parser.add_argument("--configfile", help="overlay merged over config.yaml, as snakemake --configfile does")
    parser.add_argument("--strategies", default="planned", help="'planned' (the model's runs), 'all', or a,b,c")
    args = parser.parse_args()
    config = load_config(args.configfile)
    torch.set_num_threads(config["evaluation"]["threads"])
    if args.strategies == "planned":
        names = model_strategies(config, args.model)
    elif args.strategies == "all":
        names = list(config["strategy_specs"])
    else:
        names = args.strategies.split(",")
    # The prepared corpus may hold fewer languages than an overlay names: use those it has.
    calibration = read_split("resources/corpus/calibration.jsonl")
    present = {row["lang"] for row in calibration}
    config["languages"] = [lang for lang in config["languages"] if lang in present]
    config["groups"] = {group: [lang for lang in langs if lang in present] for group, langs in config["groups"].items()}
    print("| strategy | quantize s | salience s | bits/weight | quantized % | protected % |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        strategy = parse_strategy(name, config["strategy_specs"][name])
        seconds, salience_seconds, storage = time_strategy(
            f"resources/models/{args.model}", strategy, config, calibration
        )
        quantized = 100 * storage["quantized_parameters"] / storage["parameters"]
        protected = 100 * storage["protected_parameters"] / storage["parameters"]
        print(
            f"| {name} | {seconds:.1f} | {salience_seconds:.1f} | {storage['bits_per_weight']:.3f} "
            f"| {quantized:.1f} | {protected:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
