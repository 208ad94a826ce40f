"""The `quant-fairness` command.

    quant-fairness score --model resources/models/smollm2-135m \\
        --split resources/corpus/test.jsonl --strategy rtn_int4_g128 [--langs en,he] [--json]
    quant-fairness score ... --strategy gptq_int4_g32 --calibration resources/corpus/calibration.jsonl

prints per-language BPB and PPL of the model (quantized by a strategy from
config.yaml's `strategy_specs` when --strategy is given).

    quant-fairness claims [--results results] [--model M] [--json]
    quant-fairness ranking --model M [--metric mean_delta_bpb] [--results results] [--json]

read the workflow's statistics tables: each seed claim's verdict under the seed and the
robust protocol, and a model's strategies ranked with the ones the data cannot tell
apart. Errors are one line on stderr with exit status 2; results go to stdout, logs to
stderr.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from quant_fairness.comparison import COMPARED
from quant_fairness.corpus import read_split
from quant_fairness.errors import QuantFairnessError
from quant_fairness.metrics import bpb, ppl


def _calibration(args, strategy, config, langs):
    """Calibration rows and, for language-aware protection, the salience mask they select."""
    if strategy is None or not (strategy.needs_calibration or strategy.needs_salience):
        return None, None
    if not args.calibration:
        raise QuantFairnessError(
            f"strategy {strategy.name!r} reads calibration text: "
            "pass --calibration (e.g. resources/corpus/calibration.jsonl)"
        )
    from quant_fairness.corpus import first_segments
    from quant_fairness.models import load_model
    from quant_fairness.salience import salience_mask

    rows = read_split(args.calibration)
    languages = langs or sorted({row["lang"] for row in rows})
    indices = None
    if strategy.needs_salience:
        # Salience is measured on the config's groups, whatever --langs scores.
        model, tokenizer = load_model(args.model, args.dtype)
        indices, _ = salience_mask(model, tokenizer, rows, strategy, config["groups"], args.batch_tokens)
    return first_segments(rows, languages, strategy.calibration_segments), indices


def _score(args):
    from quant_fairness.evaluate import score_split
    from quant_fairness.strategies import parse_strategy

    strategy, config = None, {}
    if args.strategy:
        config = yaml.safe_load(open(args.config, encoding="utf-8"))
        specs = config["strategy_specs"]
        if args.strategy not in specs:
            raise QuantFairnessError(f"strategy {args.strategy!r} is not defined; expected one of {sorted(specs)}")
        strategy = parse_strategy(args.strategy, specs[args.strategy])
    langs = args.langs.split(",") if args.langs else None
    calibration_rows, salience_indices = _calibration(args, strategy, config, langs)
    split = read_split(args.split, langs)
    scores, storage, _ = score_split(
        args.model, split, strategy, args.dtype, args.batch_tokens, salience_indices, calibration_rows
    )
    sums = defaultdict(lambda: [0.0, 0, 0])
    for row in scores:
        entry = sums[row["lang"]]
        entry[0] += row["nll"]
        entry[1] += row["tokens"]
        entry[2] += row["bytes"]
    result = {
        "strategy": args.strategy or "baseline",
        "bits_per_weight": storage["bits_per_weight"] if storage else None,
        "languages": {
            lang: {"bpb": float(bpb(nll, n_bytes)), "ppl": float(ppl(nll, tokens)), "tokens": tokens, "bytes": n_bytes}
            for lang, (nll, tokens, n_bytes) in sorted(sums.items())
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"strategy {result['strategy']}" + (f", {result['bits_per_weight']:.3f} bits/weight" if storage else ""))
    print(f"{'lang':<6}{'BPB':>10}{'PPL':>12}{'tokens':>9}{'bytes':>9}")
    for lang, m in result["languages"].items():
        print(f"{lang:<6}{m['bpb']:>10.4f}{m['ppl']:>12.3f}{m['tokens']:>9}{m['bytes']:>9}")


def _statistics_table(path):
    from quant_fairness.tables import read_tsv

    if not path.is_file():
        raise QuantFairnessError(f"{path} does not exist: run `snakemake --cores 2 statistics_all` first")
    return read_tsv(path)


def _claims(args):
    rows = _statistics_table(Path(args.results) / "statistics/claims.tsv")
    if args.model:
        rows = [row for row in rows if row["model"] == args.model]
        if not rows:
            raise QuantFairnessError(f"model {args.model!r} has no claim checks in {args.results}")
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    print(f"{'claim':<32}{'model':<16}{'protocol':<10}{'verdict':<15}values / note")
    for row in rows:
        detail = row["values"] if row["values"] != "NA" else row["note"]
        print(f"{row['claim']:<32}{row['model']:<16}{row['protocol']:<10}{row['verdict']:<15}{detail}")


def _ranking(args):
    rows = _statistics_table(Path(args.results) / "statistics" / args.model / "ranking.tsv")
    rows = [row for row in rows if row["metric"] == args.metric]
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from quant_fairness.report import with_ci

    print(f"{'rank':>4}  {'strategy':<24}{args.metric:>30}  indistinguishable from")
    for row in rows:
        print(f"{row['rank']:>4}  {row['strategy']:<24}{with_ci(row):>30}  {row['indistinguishable_from']}")


def build_parser():
    parser = argparse.ArgumentParser(prog="quant-fairness", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    score = commands.add_parser("score", help="per-language BPB/PPL of a model, optionally quantized")
    score.add_argument("--model", required=True, help="a prepared model folder (resources/models/<name>)")
    score.add_argument("--split", required=True, help="a split file (resources/corpus/test.jsonl)")
    score.add_argument("--strategy", help="a strategy name from --config's strategy_specs")
    score.add_argument("--config", default="config.yaml")
    score.add_argument("--calibration", help="calibration split, for GPTQ, AWQ and salience-protected strategies")
    score.add_argument("--langs", help="comma-separated languages (default: all in the split)")
    score.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    score.add_argument("--batch-tokens", type=int, default=1024)
    score.add_argument("--json", action="store_true", help="print JSON only")
    score.set_defaults(run=_score)
    claims = commands.add_parser("claims", help="the seed claims' verdicts from the workflow's statistics")
    claims.add_argument("--results", default="results", help="the workflow's results folder")
    claims.add_argument("--model", help="one model only")
    claims.add_argument("--json", action="store_true", help="print JSON only")
    claims.set_defaults(run=_claims)
    ranking = commands.add_parser("ranking", help="a model's strategies ranked, with indistinguishable ones")
    ranking.add_argument("--model", required=True)
    ranking.add_argument("--metric", default="robust_disparity", choices=sorted(COMPARED))
    ranking.add_argument("--results", default="results", help="the workflow's results folder")
    ranking.add_argument("--json", action="store_true", help="print JSON only")
    ranking.set_defaults(run=_ranking)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (QuantFairnessError, FileNotFoundError) as error:
        print(f"quant-fairness: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
