"""The single-block layer sweep, naive vs prefix reuse, on the same model and segments.

Run after the workflow has prepared the model and the corpus (on demand, not in CI):

    python benchmarks/sweep_speed.py --model smollm2-135m --segments 8

Both sweeps protect each decoder block in turn (every other weight quantized by the
strategy) and score the first `--segments` selection segments per language. The naive
sweep runs every candidate through the whole model; the fast one runs the last block's
candidate once, caching the hidden states entering each block, and starts every other
candidate at its own block. Prints seconds for each, the speedup, whether the rankings by
robust disparity are identical, and the largest per-segment NLL difference.
"""

import argparse
import time

import torch
import yaml

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.block_switch import BlockSwitch
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.evaluate.sweep import candidate_scores, rank_blocks, robust_disparity
from quant_fairness.quantize.strategies import parse_strategy


def ranking(baseline, scored, groups, reference):
    return rank_blocks(
        {block: robust_disparity(baseline, rows, groups, reference, 0.0) for block, rows in scored.items()}
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--strategy", default="seed_absmax_int4")
    parser.add_argument("--segments", type=int, default=8, help="selection segments per language")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load(open("config.yaml", encoding="utf-8"))
    languages = config["languages"]
    rows = first_segments(read_split("resources/corpus/selection.jsonl", languages), languages, args.segments)
    model, tokenizer = load_model(f"resources/models/{args.model}")
    split = TokenizedSplit(model, tokenizer, rows, config["evaluation"]["batch_tokens"])
    baseline = split.score(model)
    strategy = parse_strategy(args.strategy, config["strategy_specs"][args.strategy])
    switch = BlockSwitch(model, strategy)
    blocks = range(len(switch.blocks))
    seconds = {}
    scored = {}
    for name, reuse in (("naive", False), ("fast", True)):
        started = time.perf_counter()
        scored[name] = candidate_scores(switch, split, (), blocks, reuse_prefix=reuse)
        seconds[name] = time.perf_counter() - started
    tokens = sum(len(ids) - 1 for ids in split.token_ids)
    largest = max(
        abs(a["nll"] - b["nll"])
        for block in blocks
        for a, b in zip(scored["naive"][block], scored["fast"][block], strict=True)
    )
    same = ranking(baseline, scored["naive"], config["groups"], config["reference_language"]) == ranking(
        baseline, scored["fast"], config["groups"], config["reference_language"]
    )
    print(f"model {args.model}, strategy {args.strategy}, {len(blocks)} blocks, {len(rows)} segments, {tokens} tokens")
    print(f"naive sweep {seconds['naive']:.1f} s, fast sweep {seconds['fast']:.1f} s, ")
    print(f"speedup {seconds['naive'] / seconds['fast']:.2f}x, identical ranking: {same}, max NLL diff {largest:.2e}")


if __name__ == "__main__":
    main()
