"""The KL divergence the workflow reports against a direct two-model computation, on a real model.

    python benchmarks/kld_exactness.py --model smollm2-135m --per-language 4 \\
        [--strategies rtn_int4_g32,seed_absmax_int4]

For each strategy: the scorer's per-language KLD (bits/byte) and top-1 agreement, computed as the
workflow does (the baseline records the reference; the quantized model is compared with it, by
the exact shortcut where the strategy leaves the LM head alone and over the full vocabulary where
it does not), beside the same quantities from both models' full logits in float64, one segment
per pass. Also the seconds of scoring alone, of scoring while recording the reference, and of
scoring while comparing with it, and the reference's size per position. Needs the workflow's
prepared model and splits (`snakemake --cores 2 resources/models/<model> resources/corpus/test.jsonl`).
"""

import argparse
import copy
import math
import time
from pathlib import Path

import torch
import yaml

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.divergence import ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.apply import apply_strategy
from quant_fairness.quantize.strategies import strategy_named

ROOT = Path(__file__).resolve().parents[1]


def direct(reference, quantized, token_ids):
    """Per segment Σ KL and top-1 agreements from both models' full logits in float64, one segment per pass."""
    kl, agree = [], []
    with torch.no_grad():
        for ids in token_ids:
            x = torch.tensor([ids])
            log_p = torch.log_softmax(reference(x).logits[0, :-1].double(), dim=-1)
            log_q = torch.log_softmax(quantized(x).logits[0, :-1].double(), dim=-1)
            kl.append(float((log_p.exp() * (log_p - log_q)).sum()))
            agree.append(int((log_p.argmax(-1) == log_q.argmax(-1)).sum()))
    return kl, agree


def per_language(rows, kl, agree):
    sums = {}
    for row, k, a in zip(rows, kl, agree, strict=True):
        entry = sums.setdefault(row["lang"], [0.0, 0, 0, 0])
        entry[0] += k
        entry[1] += a
        entry[2] += len(row["text"].encode("utf-8"))
        entry[3] += row["tokens"]
    return {lang: (k / (b * math.log(2)), a / t) for lang, (k, a, b, t) in sums.items()}


def timed(function, *args, **kwargs):
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--per-language", type=int, default=4)
    parser.add_argument("--strategies", default="rtn_int4_g32,seed_absmax_int4")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    rows = read_split(ROOT / "resources/corpus/test.jsonl")
    languages = sorted({row["lang"] for row in rows})
    rows = first_segments(rows, languages, args.per_language)
    model, tokenizer = load_model(ROOT / "resources/models" / args.model)
    split = TokenizedSplit(model, tokenizer, rows)
    _, plain = timed(split.score, model)
    (_, reference), recording = timed(split.record, model)
    positions = len(reference.fields["top1"])
    size = sum(values.numel() * values.element_size() for values in reference.fields.values())
    print(
        f"{args.model}: {len(rows)} segments, {positions} positions; scoring {plain:.1f} s, "
        f"scoring and recording {recording:.1f} s; reference {size / positions / 1024:.1f} KiB per position"
    )
    head = ReferenceHead.of(model)
    for name in args.strategies.split(","):
        quantized = copy.deepcopy(model)
        apply_strategy(quantized, strategy_named(name, config["strategy_specs"]))
        path = "full vocabulary" if not head.is_head_of(quantized) else "shortcut"
        scored, comparing = timed(split.score, quantized, reference=reference, head=head)
        ours = per_language(
            [{**row, "tokens": s["tokens"]} for row, s in zip(rows, scored, strict=True)],
            [s["kl_divergence"] for s in scored],
            [s["top1_agreement"] for s in scored],
        )
        kl, agree = direct(model, quantized, split.token_ids)
        theirs = per_language([{**row, "tokens": s["tokens"]} for row, s in zip(rows, scored, strict=True)], kl, agree)
        print(f"\n{name} ({path}; scoring and comparing {comparing:.1f} s)")
        print(f"{'lang':<6}{'KLD ours':>12}{'KLD direct':>12}{'rel. diff':>11}{'top-1 ours':>12}{'top-1 direct':>14}")
        for lang in languages:
            (k, a), (dk, da) = ours[lang], theirs[lang]
            print(f"{lang:<6}{k:>12.6f}{dk:>12.6f}{abs(k - dk) / dk:>11.2e}{a:>12.4f}{da:>14.4f}")


if __name__ == "__main__":
    main()
