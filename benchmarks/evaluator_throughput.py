"""Evaluator throughput: the batched, length-sorted evaluator vs plain transformers scoring
one segment per forward pass, on the same model and the same segments.

Run after the workflow has prepared the models and the corpus (run on demand, not in CI):

    python benchmarks/evaluator_throughput.py                       # default models, whole test split
    python benchmarks/evaluator_throughput.py --models smollm2-135m --per-language 16

Prints, per model: tokens scored, tokens/s of both, the speedup, the largest per-segment
NLL difference between the two (nats), and the matmul ceiling: tokens/s if every linear
layer (LM head included) ran as one plain 1024-row matmul and nothing else took time.
"""

import argparse
import time

import torch
import yaml

from quant_fairness.data.batches import tokenize_segments
from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import score_segments


@torch.no_grad()
def one_segment_at_a_time(model, token_ids):
    """The plain-transformers reference: full logits, log-softmax, one segment per pass."""
    totals = []
    for ids in token_ids:
        x = torch.tensor([ids])
        logp = torch.log_softmax(model(x).logits.float(), dim=-1)[0, :-1]
        totals.append(-logp.gather(1, x[0, 1:, None]).sum().item())
    return totals


@torch.no_grad()
def matmul_ceiling(model, rows=1024, repeats=3):
    """Tokens/s bound: seconds per token of the model's linear layers as plain matmuls."""
    seconds = 0.0
    for module in model.modules():
        if isinstance(module, torch.nn.Linear):
            x = torch.randn(rows, module.in_features)
            torch.mm(x, module.weight.t())
            started = time.perf_counter()
            for _ in range(repeats):
                torch.mm(x, module.weight.t())
            seconds += (time.perf_counter() - started) / repeats
    return rows / seconds


def first_segments(rows, per_language):
    """The first `per_language` rows of each language, languages in sorted order (all if None)."""
    if not per_language:
        return rows
    kept = {}
    for row in rows:
        kept.setdefault(row["lang"], [])
        if len(kept[row["lang"]]) < per_language:
            kept[row["lang"]].append(row)
    return [row for lang in sorted(kept) for row in kept[lang]]


def measure(model_dir, texts, batch_tokens):
    model, tokenizer = load_model(model_dir)
    token_ids = tokenize_segments(tokenizer, texts)
    tokens = sum(len(ids) - 1 for ids in token_ids)
    score_segments(model, token_ids[:8], batch_tokens)  # warm-up
    started = time.perf_counter()
    batched = score_segments(model, token_ids, batch_tokens)
    batched_s = time.perf_counter() - started
    started = time.perf_counter()
    single = one_segment_at_a_time(model, token_ids)
    single_s = time.perf_counter() - started
    worst = max(abs(a - b) for a, b in zip(batched, single, strict=True))
    return tokens, tokens / batched_s, tokens / single_s, worst, matmul_ceiling(model)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--models", help="comma-separated (default: the config's models)")
    parser.add_argument("--split", default="resources/corpus/test.jsonl")
    parser.add_argument("--per-language", type=int, help="first N segments of each language")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = yaml.safe_load(open(args.config))
    torch.set_num_threads(args.threads)
    rows = first_segments(read_split(args.split), args.per_language)
    texts = [r["text"] for r in rows]
    models = args.models.split(",") if args.models else config["models"]
    print(f"{len(texts)} segments, {args.threads} threads, batch_tokens={config['evaluation']['batch_tokens']}")
    print("| model | tokens | batched tok/s | one-at-a-time tok/s | speedup | max NLL diff | matmul ceiling tok/s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in models:
        tokens, fast, slow, worst, ceiling = measure(
            f"resources/models/{name}", texts, config["evaluation"]["batch_tokens"]
        )
        print(
            f"| {name} | {tokens} | {fast:.0f} | {slow:.0f} | {fast / slow:.2f}x | {worst:.2e} | {ceiling:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
