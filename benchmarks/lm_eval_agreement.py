"""This project's evaluator against lm-evaluation-harness, on the same model and the same
segments, in one run: tokens/s and per-language bits per byte of both; then the evaluator in
bfloat16 against float32 (speed, and the NLL shift that is the statistics' noise floor); and
the achieved FLOP/s against a plain matmul of the model's own shapes on this CPU.

Conventions are made equal, not assumed: lm-eval's `loglikelihood_rolling` scores every token
of a document after a prefix token, and its prefix is set to the evaluator's start token (BOS,
or EOS where there is none), both in float32 with the log-softmax in float32. Run on demand
after the workflow has prepared the models and the corpus; lm-eval is not a project
dependency:

    pip install "lm-eval>=0.4"
    python benchmarks/lm_eval_agreement.py --model smollm2-135m --per-language 8
"""

import argparse
import math
import time

import torch
import yaml
from evaluator_throughput import first_segments, matmul_ceiling

from quant_fairness.data.batches import start_token_id, tokenize_segments
from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import score_segments


def timed(action):
    started = time.perf_counter()
    result = action()
    return result, time.perf_counter() - started


def lm_eval_nll(model, tokenizer, texts, batch_size):
    """Per-document NLL (nats) from lm-eval's HFLM.loglikelihood_rolling on the loaded model."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    harness = HFLM(
        pretrained=model,
        tokenizer=tokenizer,
        device="cpu",
        batch_size=batch_size,
        prefix_token_id=start_token_id(tokenizer),
        # Left unset, lm-eval encodes with the tokenizer's special tokens: Gemma's adds a BOS,
        # so lm-eval scored a second BOS after the prefix (+33 nats per segment on gemma-3-270m).
        add_bos_token=False,
        softmax_dtype="float32",
    )
    requests = [Instance("loglikelihood_rolling", {}, (text,), k) for k, text in enumerate(texts)]
    return [-loglikelihood for loglikelihood in harness.loglikelihood_rolling(requests, disable_tqdm=True)]


def bits_per_byte(rows, nll):
    """{lang: BPB} = ΣNLL / (ΣB · ln 2) over each language's segments."""
    totals = {}
    for row, value in zip(rows, nll, strict=True):
        entry = totals.setdefault(row["lang"], [0.0, 0])
        entry[0] += value
        entry[1] += len(row["text"].encode("utf-8"))
    return {lang: total / (size * math.log(2)) for lang, (total, size) in sorted(totals.items())}


def linear_macs_per_token(model):
    return sum(m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def measure_float32(folder, texts, batch_tokens, batch_sizes):
    """Both evaluators in float32 on the same loaded model: NLLs and seconds, and its shapes."""
    model, tokenizer = load_model(folder)
    token_ids = tokenize_segments(tokenizer, texts)
    score_segments(model, token_ids[:8], batch_tokens)  # warm-up
    ours = timed(lambda: score_segments(model, token_ids, batch_tokens))
    harness = {size: timed(lambda size=size: lm_eval_nll(model, tokenizer, texts, size)) for size in batch_sizes}
    tokens = sum(len(ids) - 1 for ids in token_ids)
    return token_ids, tokens, ours, harness, linear_macs_per_token(model), matmul_ceiling(model)


def measure_bfloat16(folder, token_ids, batch_tokens):
    model, _ = load_model(folder, dtype="bfloat16")
    score_segments(model, token_ids[:8], batch_tokens)  # warm-up
    return timed(lambda: score_segments(model, token_ids, batch_tokens))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--split", default="resources/corpus/test.jsonl")
    parser.add_argument("--per-language", type=int, default=8, help="first N segments of each language")
    parser.add_argument("--batch-sizes", default="1,16", help="lm-eval batch sizes to time")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    batch_tokens = yaml.safe_load(open(args.config))["evaluation"]["batch_tokens"]
    torch.set_num_threads(args.threads)
    rows = first_segments(read_split(args.split), args.per_language)
    texts = [row["text"] for row in rows]
    folder = f"resources/models/{args.model}"
    sizes = sorted(map(int, args.batch_sizes.split(",")))
    token_ids, tokens, (ours, ours_s), harness, macs, ceiling = measure_float32(folder, texts, batch_tokens, sizes)
    bf16, bf16_s = measure_bfloat16(folder, token_ids, batch_tokens)
    reference, reference_s = harness[sizes[0]]

    print(f"{args.model}: {len(texts)} segments ({args.per_language} per language), {tokens} tokens, ", end="")
    print(f"{args.threads} threads")
    print(f"\n| evaluator | tok/s | × lm-eval batch {sizes[0]} |\n|---|---:|---:|")
    speeds = [(f"quant-fairness, fp32, batch_tokens={batch_tokens}", ours_s)]
    speeds += [(f"lm-eval loglikelihood_rolling, fp32, batch_size={size}", harness[size][1]) for size in sizes]
    speeds += [("quant-fairness, bf16", bf16_s)]
    for label, seconds in speeds:
        print(f"| {label} | {tokens / seconds:.0f} | {reference_s / seconds:.2f} |")

    ours_bpb, harness_bpb, bf16_bpb = (bits_per_byte(rows, nll) for nll in (ours, reference, bf16))
    print("\n| lang | BPB quant-fairness | BPB lm-eval | relative difference | BPB bf16 − fp32 |")
    print("|---|---:|---:|---:|---:|")
    for lang, value in ours_bpb.items():
        relative = abs(value - harness_bpb[lang]) / value
        print(f"| {lang} | {value:.5f} | {harness_bpb[lang]:.5f} | {relative:.1e} | {bf16_bpb[lang] - value:+.1e} |")
    worst = max(abs(a - b) for a, b in zip(ours, reference, strict=True))
    shift = max(abs(a - b) for a, b in zip(ours, bf16, strict=True))
    print(f"\nlargest per-segment NLL difference: lm-eval {worst:.1e} nats, bf16 {shift:.2f} nats")
    print(
        f"linear layers: {macs / 1e6:.0f} M multiply-adds per token; achieved {2 * macs * tokens / ours_s / 1e9:.1f} "
        f"GFLOP/s (fp32) vs {2 * macs * ceiling / 1e9:.1f} GFLOP/s for a plain 1024-row matmul of the same shapes: "
        f"{tokens / ours_s / ceiling:.0%} of the ceiling"
    )


if __name__ == "__main__":
    main()
