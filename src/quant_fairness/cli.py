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
apart.

    quant-fairness sweep --model smollm2-135m [--langs en,he,ar,zh] [--max-layers 3] [--json]
    quant-fairness recommend --model smollm2-135m --top 3          # prints 0,9,11

protect each decoder block in turn, rank blocks by robust disparity on the selection
split, grow the best set greedily and re-measure it on the test split (quant_fairness.evaluate.sweep).

    quant-fairness pack --model smollm2-135m --strategy seed_keep5 -o patch/ [--quantized int4/]
    quant-fairness apply --base int4/ --patch patch/ -o fair/

write the fairness patch (and the packed quantized model it applies to), and rebuild the
fair model from the two after checking their SHA-256 (quant_fairness.artifacts.fairness_patch).
--model is a model folder or the name of a prepared model under resources/models/.
Errors are one line on stderr with exit status 2; results go to stdout, logs and
progress to stderr.
"""

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import yaml

from quant_fairness.data.corpus import read_split
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.strategies import strategy_named
from quant_fairness.stats.comparison import COMPARED
from quant_fairness.stats.metrics import bpb, ppl


def _calibration(args, model_dir, dtype, strategy, config, langs, device="cpu"):
    """Calibration rows and, for language-aware protection, the salience mask they select."""
    if strategy is None or not (strategy.needs_calibration or strategy.needs_salience):
        return None, None
    if not args.calibration:
        raise QuantFairnessError(
            f"strategy {strategy.name!r} reads calibration text: "
            "pass --calibration (e.g. resources/corpus/calibration.jsonl)"
        )
    from quant_fairness.data.corpus import first_segments
    from quant_fairness.data.models import load_model
    from quant_fairness.quantize.salience import salience_mask

    rows = read_split(args.calibration)
    languages = langs or sorted({row["lang"] for row in rows})
    indices = None
    if strategy.needs_salience:
        # Salience is measured on the config's groups, whatever --langs scores.
        model, tokenizer = load_model(model_dir, dtype, device)
        indices, _ = salience_mask(model, tokenizer, rows, strategy, config["groups"], args.batch_tokens)
    return first_segments(rows, languages, strategy.calibration_segments), indices


def _score(args):
    from quant_fairness.data.models import load_model
    from quant_fairness.evaluate.score import TokenizedSplit
    from quant_fairness.quantize.apply import quantize_model

    strategy, config = None, {}
    if args.strategy:
        config = _config(args.config)
        strategy = strategy_named(args.strategy, config["strategy_specs"])
    langs = args.langs.split(",") if args.langs else None
    calibration_rows, salience_indices = _calibration(
        args, args.model, args.dtype, strategy, config, langs, args.device
    )
    model, tokenizer = load_model(args.model, args.dtype, args.device)
    split = TokenizedSplit(model, tokenizer, read_split(args.split, langs), args.batch_tokens)
    storage = None
    if strategy is not None:
        storage, _ = quantize_model(model, tokenizer, strategy, salience_indices, calibration_rows, args.batch_tokens)
    scores = split.score(model, f"model {args.model!r}, strategy {args.strategy or 'baseline'!r}")
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


def _model_dir(model):
    """A model folder, given as a path or as the name of a model the workflow prepared."""
    for folder in (Path(model), Path("resources/models") / model):
        if (folder / "config.json").is_file():
            return folder
    raise QuantFairnessError(
        f"model {model!r} is neither a Hugging Face model folder nor a prepared model under resources/models/ "
        f"(prepare it with `snakemake --cores 2 resources/models/{model}`)"
    )


def _config(path):
    return yaml.safe_load(open(path, encoding="utf-8"))


def _sweep_groups(config, langs):
    """The config's high/low groups, restricted to --langs."""
    languages = langs or config["languages"]
    groups = {group: [lang for lang in config["groups"][group] if lang in languages] for group in ("high", "low")}
    for group, members in groups.items():
        if not members:
            raise QuantFairnessError(
                f"--langs {','.join(languages)} has no language of the {group} group {config['groups'][group]}"
            )
    return languages, groups, config["reference_language"]


def _run_sweep(args, max_layers):
    from tqdm import tqdm

    from quant_fairness.data.corpus import first_segments
    from quant_fairness.data.layers import layer_count
    from quant_fairness.data.models import load_model
    from quant_fairness.evaluate.sweep import passes, sweep

    config = _config(args.config)
    langs = args.langs.split(",") if args.langs else None
    languages, groups, reference = _sweep_groups(config, langs)
    if reference not in languages:
        raise QuantFairnessError(f"--langs must include the reference language {reference!r}")
    strategy = strategy_named(args.strategy, config["strategy_specs"])
    selection = first_segments(read_split(args.selection, languages), languages, args.segments)
    test = read_split(args.test, languages)
    model, tokenizer = load_model(_model_dir(args.model), device=args.device)
    noise_floor = _noise_floor(args)
    total = passes(layer_count(model), max_layers, args.candidates)
    with tqdm(total=total, desc="sweep", unit="pass", file=sys.stderr, disable=None) as bar:
        return sweep(
            model,
            tokenizer,
            selection,
            test,
            strategy,
            groups,
            reference,
            max_layers=max_layers,
            candidates=args.candidates,
            noise_floor=noise_floor,
            batch_tokens=args.batch_tokens,
            progress=bar.update,
            model_name=Path(args.model).name,
        )


def _noise_floor(args):
    """The floor no block may be ranked below: --noise-floor, else the workflow's for this model,
    else None (the sweep measures it on the selection split)."""
    from quant_fairness.stats.noise_floor import read_noise_floor

    table = Path(args.results) / "noise_floor" / f"{Path(args.model).name}.tsv"
    if args.noise_floor is not None:
        floor, origin = args.noise_floor, "--noise-floor"
    elif table.is_file():
        floor, origin = read_noise_floor(table), str(table)
    else:
        return None
    print(f"noise floor {floor:.3g} bits/byte ({origin})", file=sys.stderr)
    return floor


def _sweep(args):
    from dataclasses import asdict

    from quant_fairness.report.formatting import with_ci

    result = _run_sweep(args, args.max_layers)
    if args.json:
        # An undefined disparity is NaN in memory and null in JSON (NaN is not JSON).
        text = json.dumps(asdict(result), indent=2, ensure_ascii=False)
        print(json.dumps(json.loads(text, parse_constant=lambda constant: None), indent=2, ensure_ascii=False))
        return
    print(f"{result.strategy}: robust disparity (low ΔBPB ÷ high ΔBPB) with one block protected, selection split")
    print(f"  (noise floor {result.noise_floor:.3g} bits/byte: below it in the high group, a disparity is undefined)")
    for row in result.single:
        print(f"  L{row['layer']:<4}{row['robust_disparity']:>10.4f}")
    print("greedy set, selection split")
    for step in result.steps:
        print(f"  {','.join(map(str, step['layers'])):<16}{step['robust_disparity']:>10.4f}")
    print("test split (95% paired bootstrap CI)")
    for row in result.test:
        if row["scope"] == "disparity":
            print(f"  {row['strategy']:<32}{row['metric']:<18}{with_ci(row)}")
    if result.note:
        print(f"  {result.note}")
        return
    difference = result.difference
    value = with_ci({**difference, "value": difference.get("difference")})
    distinguishable = difference.get("distinguishable", "no")
    print(f"  {difference['strategy']} minus {difference['versus']}: {value} (distinguishable: {distinguishable})")


def _recommend(args):
    result = _run_sweep(args, args.top)
    if result.note:
        raise QuantFairnessError(result.note)
    layers = ",".join(str(layer) for layer in result.chosen)
    print(json.dumps({"layers": list(result.chosen)}) if args.json else layers)


def _pack(args):
    from quant_fairness.artifacts.fairness_patch import pack

    config = _config(args.config)
    strategy = strategy_named(args.strategy, config["strategy_specs"])
    model_dir = _model_dir(args.model)
    _, salience_indices = _calibration(args, model_dir, "float32", strategy, config, None)
    manifest = pack(model_dir, strategy, Path(args.model).name, args.output, args.quantized, salience_indices)
    print(
        json.dumps(manifest, indent=2, sort_keys=True)
        if args.json
        else f"wrote {args.output}" + (f" and {args.quantized}" if args.quantized else "")
    )


def _apply(args):
    from quant_fairness.artifacts.fairness_patch import apply_patch

    print(apply_patch(args.base, args.patch, args.output))


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
    from quant_fairness.report.formatting import with_ci

    print(f"{'rank':>4}  {'strategy':<24}{args.metric:>30}  indistinguishable from")
    for row in rows:
        print(f"{row['rank']:>4}  {row['strategy']:<24}{with_ci(row):>30}  {row['indistinguishable_from']}")


DEVICE_HELP = "auto (cuda when torch sees a GPU, else cpu), cpu, cuda, cuda:N or mps"


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
    score.add_argument("--device", default="auto", help=DEVICE_HELP)
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
    for name, help_text in (
        ("sweep", "rank decoder blocks to protect, grow the best set, re-measure it on the test split"),
        ("recommend", "print the blocks to protect (e.g. 0,9,11) for pipes"),
    ):
        sub = commands.add_parser(name, help=help_text)
        sub.add_argument("--model", required=True, help="a model folder, or a prepared model's name")
        sub.add_argument("--langs", help="comma-separated languages (default: config.yaml's languages)")
        sub.add_argument("--strategy", default="seed_absmax_int4", help="the quantizer, from --config's strategy_specs")
        sub.add_argument("--config", default="config.yaml")
        sub.add_argument("--selection", default="resources/corpus/selection.jsonl", help="split that chooses blocks")
        sub.add_argument("--test", default="resources/corpus/test.jsonl", help="split the chosen set is measured on")
        sub.add_argument("--segments", type=int, default=8, help="selection segments per language (default 8)")
        sub.add_argument("--candidates", type=int, help="extend the set with only the best N single blocks")
        sub.add_argument(
            "--noise-floor",
            type=float,
            help="bits/byte (default: the workflow's results/noise_floor/<model>.tsv, else measured on the "
            "selection split in bfloat16 against float32)",
        )
        sub.add_argument("--results", default="results", help="the workflow's results folder, for its noise floor")
        sub.add_argument("--batch-tokens", type=int, default=1024)
        sub.add_argument("--device", default="auto", help=DEVICE_HELP)
        sub.add_argument("--json", action="store_true", help="print JSON only")
        if name == "sweep":
            sub.add_argument("--max-layers", type=int, default=3, help="size of the greedy set (default 3)")
            sub.set_defaults(run=_sweep)
        else:
            sub.add_argument("--top", type=int, default=3, help="how many blocks (default 3)")
            sub.set_defaults(run=_recommend)
    pack = commands.add_parser("pack", help="write a strategy's fairness patch (and packed quantized model)")
    pack.add_argument("--model", required=True, help="a model folder, or a prepared model's name")
    pack.add_argument("--strategy", required=True, help="a strategy that protects weights, from --config")
    pack.add_argument("--config", default="config.yaml")
    pack.add_argument("--calibration", help="calibration split, for salience-protected strategies")
    pack.add_argument("--batch-tokens", type=int, default=1024)
    pack.add_argument("-o", "--output", required=True, help="patch folder to write")
    pack.add_argument("--quantized", help="also write the packed quantized model the patch applies to here")
    pack.add_argument("--json", action="store_true", help="print the manifest as JSON")
    pack.set_defaults(run=_pack)
    apply = commands.add_parser("apply", help="rebuild the fair model from a packed model and a patch")
    apply.add_argument("--base", required=True, help="the packed quantized model folder")
    apply.add_argument("--patch", required=True, help="the patch folder")
    apply.add_argument("-o", "--output", required=True, help="folder for the rebuilt Hugging Face model")
    apply.set_defaults(run=_apply)
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
