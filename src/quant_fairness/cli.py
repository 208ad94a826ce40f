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

    quant-fairness corpora bible/disparity/smollm2-135m.tsv results/disparity/smollm2-135m.tsv \
        [--strategy rtn_int4_g32] [--threshold 0.67] [--json]

compares one model's baseline BPB (and a strategy's ΔBPB) on two corpora, language by
language, and flags the languages the second corpus makes suspiciously easy: memorised
text (quant_fairness.stats.cross_corpus).

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
from quant_fairness.quantize.strategies import CALIBRATION_GROUPS, MATCHED, parse_strategy, strategy_named
from quant_fairness.stats.comparison import COMPARED
from quant_fairness.stats.cross_corpus import COLUMNS as CROSS_CORPUS_COLUMNS
from quant_fairness.stats.cross_corpus import THRESHOLD, cross_corpus_rows
from quant_fairness.stats.metrics import bpb, delta_bpb, kld_bpb, kld_per_token, ppl, top1_agreement


def _calibration(args, model_dir, dtype, strategy, config, langs, device="cpu"):
    """(calibration rows, their languages, salience mask): the text GPTQ and AWQ read (the
    strategy's calibration_languages among the config's languages, or each scored language for
    matched) and, for language-aware protection, the salience mask the groups' text selects."""
    if strategy is None or not (strategy.needs_calibration or strategy.needs_salience):
        return None, None, None
    if not args.calibration:
        raise QuantFairnessError(
            f"strategy {strategy.name!r} reads calibration text: "
            "pass --calibration (e.g. resources/corpus/calibration.jsonl)"
        )
    from quant_fairness.data.models import load_model
    from quant_fairness.quantize.calibration import calibration_languages
    from quant_fairness.quantize.salience import salience_mask

    rows = read_split(args.calibration)
    available = sorted({row["lang"] for row in rows})
    pool = langs if strategy.matched else config.get("languages", available)
    languages = calibration_languages(strategy, config["groups"], pool)
    named = strategy.calibration_languages if isinstance(strategy.calibration_languages, tuple) else ()
    missing = [lang for lang in [*languages, *named] if lang not in available]
    if strategy.needs_calibration and missing:
        raise QuantFairnessError(
            f"--calibration {args.calibration} has no text in {missing[0]!r}, a calibration language of "
            f"{strategy.name!r}; it has {available}"
        )
    indices = None
    if strategy.needs_salience:
        # Salience is measured on the config's groups, whatever --langs scores.
        model, tokenizer = load_model(model_dir, dtype, device)
        indices, _ = salience_mask(model, tokenizer, rows, strategy, config["groups"], args.batch_tokens)
    return rows, languages, indices


def _strategy(args, config):
    """The --strategy of --config's strategy_specs, with --calibration-languages in place of its own."""
    name = args.strategy
    strategy_named(name, config["strategy_specs"])  # one line if it is not defined
    spec = dict(config["strategy_specs"][name])
    if args.calibration_languages:
        chosen = args.calibration_languages.split(",")
        spec["calibration_languages"] = chosen[0] if len(chosen) == 1 else chosen
        # A language the config does not list is refused here, or, without one, by the calibration file.
        for lang in chosen if "languages" in config else ():
            if lang not in (*CALIBRATION_GROUPS, MATCHED, *config["languages"]):
                raise QuantFairnessError(
                    f"--calibration-languages {lang!r} is not a group {list(CALIBRATION_GROUPS)}, {MATCHED!r} "
                    f"or a language of --config {config['languages']}"
                )
    return parse_strategy(name, spec)


def _language_sums(scores):
    """{lang: {column: sum over its segments}} of score rows."""
    sums = {}
    for row in scores:
        entry = sums.setdefault(row["lang"], defaultdict(float))
        for column in ("nll", "tokens", "bytes", "kl_divergence", "top1_agreement"):
            entry[column] += row.get(column) or 0
    return dict(sorted(sums.items()))


def _score(args):
    from quant_fairness.data.models import load_model
    from quant_fairness.evaluate.quantized import quantize_and_score
    from quant_fairness.evaluate.score import TokenizedSplit

    strategy, config = None, {}
    if args.strategy:
        config = _config(args.config)
        strategy = _strategy(args, config)
    elif args.calibration_languages:
        raise QuantFairnessError("--calibration-languages goes with --strategy (a GPTQ or AWQ strategy)")
    langs = args.langs.split(",") if args.langs else None
    rows = read_split(args.split, langs)
    calibration_rows, calibration, salience_indices = _calibration(
        args, args.model, args.dtype, strategy, config, langs or sorted({row["lang"] for row in rows}), args.device
    )
    model, tokenizer = load_model(args.model, args.dtype, args.device)
    split = TokenizedSplit(model, tokenizer, rows, args.batch_tokens)
    label, storage = f"model {args.model!r}", None
    if strategy is None:
        scores = split.score(model, label)
    else:
        # The unquantized model first: its scores are the baseline and its distributions the reference.
        baseline, reference = split.record(model, label)
        del model
        result = quantize_and_score(
            args.model,
            rows,
            strategy,
            reference,
            f"{label}, strategy {strategy.name!r}",
            calibration_rows,
            calibration,
            salience_indices,
            args.dtype,
            args.device,
            args.batch_tokens,
        )
        scores, storage = result.scores, result.storage
    languages, reference_sums = {}, {} if strategy is None else _language_sums(baseline)
    for lang, s in _language_sums(scores).items():
        entry = {"bpb": float(bpb(s["nll"], s["bytes"])), "ppl": float(ppl(s["nll"], s["tokens"]))}
        entry |= {"tokens": int(s["tokens"]), "bytes": int(s["bytes"])}
        if strategy is not None:
            base = reference_sums[lang]
            entry["delta_bpb"] = float(delta_bpb(entry["bpb"], bpb(base["nll"], base["bytes"])))
            entry["kld_bpb"] = float(kld_bpb(s["kl_divergence"], s["bytes"]))
            entry["kld_per_token"] = float(kld_per_token(s["kl_divergence"], s["tokens"]))
            entry["top1_agreement"] = float(top1_agreement(s["top1_agreement"], s["tokens"]))
        languages[lang] = entry
    summary = {
        "strategy": strategy.name if strategy else "baseline",
        "calibration_languages": strategy.calibration_languages if strategy and strategy.needs_calibration else None,
        "bits_per_weight": storage["bits_per_weight"] if storage else None,
        "languages": languages,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        _print_scores(summary, divergence=strategy is not None)


def _print_scores(summary, divergence):
    bits = summary["bits_per_weight"]
    print(f"strategy {summary['strategy']}" + (f", {bits:.3f} bits/weight" if bits is not None else ""))
    extra = f"{'ΔBPB':>10}{'KLD b/B':>10}{'KLD/tok':>10}{'top-1':>8}" if divergence else ""
    print(f"{'lang':<6}{'BPB':>10}{'PPL':>12}{'tokens':>9}{'bytes':>9}{extra}")
    for lang, m in summary["languages"].items():
        line = f"{lang:<6}{m['bpb']:>10.4f}{m['ppl']:>12.3f}{m['tokens']:>9}{m['bytes']:>9}"
        if divergence:
            line += (
                f"{m['delta_bpb']:>10.4f}{m['kld_bpb']:>10.4f}{m['kld_per_token']:>10.4f}{m['top1_agreement']:>8.1%}"
            )
        print(line)


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
    *_, salience_indices = _calibration(args, model_dir, "float32", strategy, config, None)
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


def _corpora(args):
    from quant_fairness.report.formatting import number

    reference, other = (_statistics_table(Path(path)) for path in (args.reference, args.other))
    rows = cross_corpus_rows(reference, other, args.strategy, args.threshold)
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    columns = [name for name in CROSS_CORPUS_COLUMNS if args.strategy or not name.startswith("delta_bpb")]
    print("".join(f"{name:>20}" for name in columns))
    for row in rows:
        print("".join(f"{row[name] if isinstance(row[name], str) else number(row[name]):>20}" for name in columns))


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
    score.add_argument(
        "--calibration-languages",
        help="whose calibration text GPTQ/AWQ read, in place of the strategy's: all, high, low, matched, or "
        "comma-separated language codes",
    )
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
    corpora = commands.add_parser(
        "corpora", help="one model on two corpora: languages whose text it may have memorised"
    )
    corpora.add_argument("reference", help="a disparity table (results/disparity/<model>.tsv) of one run")
    corpora.add_argument("other", help="the same model's disparity table of a run on another corpus")
    corpora.add_argument("--strategy", help="also show this strategy's ΔBPB on both corpora")
    corpora.add_argument(
        "--threshold", type=float, default=THRESHOLD,
        help="flag a language whose BPB ratio between the corpora is below this times the median ratio",
    )  # fmt: skip
    corpora.add_argument("--json", action="store_true", help="print JSON only")
    corpora.set_defaults(run=_corpora)
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
