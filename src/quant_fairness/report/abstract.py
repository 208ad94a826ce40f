"""The report's answer first: what the practical quantizers (the config's `report.practical`
experiments) do to each language group, which of the seeds' claims survive, and, apart from
those, what the seed's own quantizer does and why its D% disparity is so large. Every sentence
carries its numbers and intervals from the run's tables.

    answer = abstract(config, models, claims)   # models, claims: report_context's
    answer["models"][0]["summary"]              # the abstract's sentences on the practical quantizers
    answer["models"][0]["practical"]            # the first page's, in full
"""

import math

from quant_fairness.plan import model_strategies, practical_strategies
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.report.findings import calibration_advice
from quant_fairness.report.formatting import number, with_ci
from quant_fairness.tables import read_tsv

# Guessing every byte uniformly costs log2(256) bits: a model above it predicts worse than no model.
UNIFORM_BYTE_BITS = math.log2(256)


def _value(row):
    return math.inf if row is None or row["value"] == "NA" else float(row["value"])


def _names(strategies):
    return ", ".join(f"`{name}`" for name in strategies)


def _span(lookup, strategies, scope, metric):
    """ "from A [CI] (`a`) to B [CI] (`b`)" over `strategies`, lowest first; undefined values left out."""
    rows = sorted(
        ((lookup[(name, scope, metric)], name) for name in strategies if (name, scope, metric) in lookup),
        key=lambda pair: (_value(pair[0]), pair[1]),
    )
    rows = [(row, name) for row, name in rows if row["value"] != "NA"]
    if not rows:
        return None
    (low, low_name), (high, high_name) = rows[0], rows[-1]
    if low_name == high_name:
        return f"{with_ci(low)} (`{low_name}`)"
    return f"from {with_ci(low)} (`{low_name}`) to {with_ci(high)} (`{high_name}`)"


def _fairest(lookup, strategies, comparisons_path, ci_percent):
    """The practical strategy of lowest robust disparity, and how many of the others the family-wise
    comparisons cannot tell from it."""
    defined = _disparity_order(lookup, strategies)
    if len(defined) < 2:
        return []
    best = defined[0]
    tied = set()
    for row in read_tsv(comparisons_path):
        pair = {row["strategy"], row["versus"]}
        if row["metric"] == "robust_disparity" and best in pair and pair <= set(defined):
            if row["distinguishable"] != "yes":
                tied |= pair - {best}
    others = len(defined) - 1
    verdict = (
        "every other one's is distinguishably higher"
        if not tied
        else f"{len(tied)} of the other {others} cannot be told apart from it ({_names(sorted(tied))})"
    )
    return [
        f"The lowest robust disparity is `{best}`'s, {with_ci(lookup[(best, 'disparity', 'robust_disparity')])} "
        "(below 1, the low-resource group loses less than the high-resource one); "
        f"{verdict}, by family-wise {ci_percent}% intervals."
    ]


def _disparity_order(lookup, strategies):
    """`strategies` whose robust disparity is defined, fairest first."""
    defined = [name for name in strategies if _value(lookup.get((name, "disparity", "robust_disparity"))) < math.inf]
    return sorted(defined, key=lambda name: (_value(lookup[(name, "disparity", "robust_disparity")]), name))


def _effect(lookup, name):
    return (
        f"costs the low-resource group {with_ci(lookup[(name, 'low', 'mean_delta_bpb')])} bits per byte and the "
        f"high-resource group {with_ci(lookup[(name, 'high', 'mean_delta_bpb')])} "
        f"(disparity {with_ci(lookup[(name, 'disparity', 'robust_disparity')])})"
    )


def _calibration_summary(path, strategies):
    """One sentence: the calibration setting that lowers the low-resource group's loss most,
    distinguishably, against calibrating on every language; or that none does."""
    rows = [row for row in read_tsv(path) if row["scope"] == "low" and row["difference"] != "NA"]
    rows = [row for row in rows if row["strategy"] in strategies]
    if not rows:
        return []
    better = [row for row in rows if row["distinguishable"] == "yes" and float(row["difference"]) < 0]
    if not better:
        return [
            "No calibration text lowers the low-resource group's loss distinguishably below calibrating on every "
            "language."
        ]
    best = min(better, key=lambda row: float(row["difference"]))
    return [
        f"Calibrating as `{best['strategy']}` does changes the low-resource group's loss by "
        f"{with_ci({'value': best['difference'], 'ci_low': best['family_low'], 'ci_high': best['family_high']})} "
        f"bits per byte against `{best['versus']}`."
    ]


def _practical_summary(config, model, lookup):
    """The abstract's short form: the fairest and the least fair practical quantizer, and the
    calibration text's effect."""
    strategies = practical_strategies(config, model["name"])
    order = _disparity_order(lookup, strategies)
    if not order:
        return []
    fairest, least = order[0], order[-1]
    sentence = f"Of {len(strategies)} practical quantizers, the one of lowest disparity, `{fairest}`, "
    sentence += _effect(lookup, fairest)
    kld = lookup.get((fairest, "all", "mean_kld_bpb"))
    if kld:
        sentence += f", its KL divergence from the unquantized model {with_ci(kld)} bits per byte"
    if least != fairest:
        sentence += f"; the one of highest, `{least}`, {_effect(lookup, least)}"
    return [sentence + "."] + _calibration_summary(model["paths"]["calibration"], strategies)


def _practical(config, model, lookup, ci_percent):
    strategies = practical_strategies(config, model["name"])
    if not strategies:
        return []
    bits = sorted({number(model["storage"][name]["bits_per_weight"], 3) for name in strategies}, key=float)
    cost = bits[0] if len(bits) == 1 else f"{bits[0]}–{bits[-1]}"
    sentences = [
        f"The {len(strategies)} practical quantizers ({_names(strategies)}; {cost} bits/weight) cost the "
        f"low-resource group {_span(lookup, strategies, 'low', 'mean_delta_bpb')} bits per byte and the "
        f"high-resource group {_span(lookup, strategies, 'high', 'mean_delta_bpb')}; robust disparity (low ÷ high) "
        f"runs {_span(lookup, strategies, 'disparity', 'robust_disparity')}."
    ]
    kld = _span(lookup, strategies, "all", "mean_kld_bpb")
    if kld:
        agreement = _span(lookup, strategies, "all", "mean_top1_agreement")
        sentences.append(
            f"Their predictions move from the unquantized model's by a KL divergence {kld} bits per byte, "
            f"and they pick the same top token at {agreement} of positions."
        )
    sentences += _fairest(lookup, strategies, model["paths"]["comparisons"], ci_percent)
    calibration = model["paths"]["calibration"]
    if {row["strategy"] for row in read_tsv(calibration)} & set(strategies):
        sentences += calibration_advice(calibration)[:1]
    return sentences


def seed_quantizers(config, model):
    """The strategies run on `model` that quantize as the seeds did (absmax INT4), keeping nothing."""
    specs = config["strategy_specs"]
    return [
        name
        for name in model_strategies(config, model)
        if (strategy := parse_strategy(name, specs[name])).quantizer == "seed_absmax" and strategy.protection.is_empty
    ]


def _group_bpb(lookup, strategy, languages, metric):
    return sum(float(lookup[(strategy, lang, metric)]["value"]) for lang in languages) / len(languages)


def _seed_summary(config, model, lookup):
    """The abstract's short form of what the seeds' quantizer does and why D% explodes."""
    sentences = []
    for strategy in seed_quantizers(config, model["name"]):
        broken = [
            lang
            for lang in config["languages"]
            if _value(lookup[(strategy, lang, "bpb_quantized")]) > UNIFORM_BYTE_BITS
        ]
        seed = lookup[(strategy, "disparity", "seed_disparity")]
        robust = lookup[(strategy, "disparity", "robust_disparity")]
        sentences.append(
            f"`{strategy}`, the seeds' own quantizer, leaves {len(broken)} of {len(config['languages'])} languages "
            f"above {number(UNIFORM_BYTE_BITS)} bits per byte, worse than guessing every byte uniformly; its seed "
            f"disparity of {with_ci(seed)} against {with_ci(robust)} in ΔBPB comes from dividing percentage "
            "increases of perplexity, which grows exponentially with the loss."
        )
    return sentences


def _seed(config, model, lookup):
    sentences = []
    for strategy in seed_quantizers(config, model["name"]):
        groups = {}
        for group in ("low", "high"):
            languages = config["groups"][group]
            groups[group] = (
                number(_group_bpb(lookup, strategy, languages, "bpb_baseline")),
                number(_group_bpb(lookup, strategy, languages, "bpb_quantized")),
                with_ci(lookup[(strategy, group, "mean_delta_bpb")]),
            )
        broken = [
            lang
            for lang in config["languages"]
            if _value(lookup[(strategy, lang, "bpb_quantized")]) > UNIFORM_BYTE_BITS
        ]
        sentence = (
            f"`{strategy}`, the seeds' own quantizer, takes the low-resource group from {groups['low'][0]} to "
            f"{groups['low'][1]} bits per byte (ΔBPB {groups['low'][2]}) and the high-resource group from "
            f"{groups['high'][0]} to {groups['high'][1]} (ΔBPB {groups['high'][2]})."
        )
        if broken:
            sentence += (
                f" In {len(broken)} of {len(config['languages'])} languages ({', '.join(broken)}) it predicts worse "
                f"than guessing every byte uniformly ({number(UNIFORM_BYTE_BITS)} bits per byte): the model is "
                "destroyed there, not degraded."
            )
        seed = lookup[(strategy, "disparity", "seed_disparity")]
        robust = lookup[(strategy, "disparity", "robust_disparity")]
        sentence += (
            f" Its seed disparity, {with_ci(seed)}, divides percentage perplexity increases, and perplexity grows "
            "exponentially with the loss, so a loss twice as large reads as a D% orders of magnitude larger; "
            f"in bits per byte the same runs give a disparity of {with_ci(robust)}."
        )
        sentences.append(sentence)
    return sentences


def _claims_summary(claims, models):
    """The abstract's short form: how many of the seeds' claims hold, per model and protocol."""
    seeds = [row for row in claims if row["source"].endswith(".txt")]
    total = len({row["claim"] for row in seeds})
    if not total:
        return []
    counts = [
        (
            model["name"],
            sum(row["robust"]["verdict"] == "holds" for row in seeds if row["model"] == model["name"]),
            sum(row["seed"]["verdict"] == "holds" for row in seeds if row["model"] == model["name"]),
        )
        for model in models
    ]
    robust = " and ".join(f"{held} of {total} for {name}" for name, held, _ in counts)
    own = " and ".join(str(held) for _, _, held in counts)
    return [f"The seeds' claims that hold under the robust protocol: {robust} ({own} under the seeds' own protocol)."]


def _claims(claims, models):
    """Which of the seeds' claims hold under the robust protocol, per model."""
    seeds = [row for row in claims if row["source"].endswith(".txt")]
    names = sorted({row["claim"] for row in seeds})
    if not names:
        return []
    parts = []
    for model in models:
        rows = [row for row in seeds if row["model"] == model["name"]]
        held = sorted(row["claim"] for row in rows if row["robust"]["verdict"] == "holds")
        undefined = sum(row["robust"]["verdict"] == "undefined" for row in rows)
        seed_held = sum(row["seed"]["verdict"] == "holds" for row in rows)
        parts.append(
            f"for {model['name']} {len(held)} hold{f' ({_names(held)})' if held else ''}, {undefined} are undefined, "
            f"against {seed_held} under the seeds' own protocol"
        )
    return [f"Of the seeds' {len(names)} claims, under the robust protocol " + "; ".join(parts) + "."]


def abstract(config, models, claims):
    """{"models": [{model, summary, practical, seed_summary, seed}], "claims", "claims_summary"}: for
    each model the abstract's short sentences and the first page's full ones."""
    ci_percent = f"{100 * config['stats']['ci_level']:g}"
    per_model = []
    for model in models:
        lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in model["rows"]}
        per_model.append(
            {
                "model": model["name"],
                "summary": _practical_summary(config, model, lookup),
                "practical": _practical(config, model, lookup, ci_percent),
                "seed_summary": _seed_summary(config, model, lookup),
                "seed": _seed(config, model, lookup),
            }
        )
    return {"models": per_model, "claims": _claims(claims, models), "claims_summary": _claims_summary(claims, models)}
