"""The report's answer first: what the practical quantizers (the config's `report.practical`
experiments) do to each language group, which of the seeds' claims survive, and, apart from
those, what the seed's own quantizer does and why its D% disparity is so large. Every sentence
carries its numbers and intervals from the run's tables; the abstract has the short form, the
first page the full one.

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


def _defined(row):
    return row is not None and row["value"] != "NA"


def _names(strategies):
    return ", ".join(f"`{name}`" for name in strategies)


def _quantizers(count):
    return f"{count} practical quantizer{'' if count == 1 else 's'}"


def _span(lookup, strategies, scope, metric):
    """ "from A [CI] (`a`) to B [CI] (`b`)" over `strategies`, lowest first, naming those whose
    value is undefined; "undefined" when none is defined."""
    rows = [(lookup.get((name, scope, metric)), name) for name in strategies]
    defined = sorted(((row, name) for row, name in rows if _defined(row)), key=lambda pair: float(pair[0]["value"]))
    undefined = [name for row, name in rows if not _defined(row)]
    if not defined:
        return "undefined"
    (low, low_name), (high, high_name) = defined[0], defined[-1]
    shown = (
        f"{with_ci(low)} (`{low_name}`)"
        if low_name == high_name
        else f"from {with_ci(low)} (`{low_name}`) to {with_ci(high)} (`{high_name}`)"
    )
    return shown + (f" (undefined for {_names(undefined)})" if undefined else "")


def _disparity_order(lookup, strategies):
    """`strategies` whose robust disparity is defined, lowest first."""
    defined = [name for name in strategies if _defined(lookup.get((name, "disparity", "robust_disparity")))]
    return sorted(defined, key=lambda name: (float(lookup[(name, "disparity", "robust_disparity")]["value"]), name))


def _lowest_disparity(lookup, order, comparisons_path, ci_percent):
    """The practical strategy of lowest robust disparity, and which of the others the family-wise
    comparisons cannot tell from it."""
    if len(order) < 2:
        return []
    best = order[0]
    tied = set()
    for row in read_tsv(comparisons_path):
        pair = {row["strategy"], row["versus"]}
        if row["metric"] == "robust_disparity" and best in pair and pair <= set(order):
            if row["distinguishable"] != "yes":
                tied |= pair - {best}
    value = lookup[(best, "disparity", "robust_disparity")]
    side = "less" if float(value["value"]) < 1 else "more"
    verdict = (
        "every other one's is distinguishably higher"
        if not tied
        else f"{len(tied)} of the other {len(order) - 1} cannot be told apart from it ({_names(sorted(tied))})"
    )
    return [
        f"The lowest robust disparity is `{best}`'s, {with_ci(value)}: its low-resource group loses {side} than "
        f"its high-resource group; {verdict}, by family-wise {ci_percent}% intervals."
    ]


def _effect(lookup, name):
    return (
        f"costs the low-resource group {with_ci(lookup[(name, 'low', 'mean_delta_bpb')])} bits per byte and the "
        f"high-resource group {with_ci(lookup[(name, 'high', 'mean_delta_bpb')])} "
        f"(disparity {with_ci(lookup[(name, 'disparity', 'robust_disparity')])})"
    )


def _calibration_summary(rows):
    """One sentence: the calibration setting that lowers the low-resource group's loss most,
    distinguishably, against calibrating on every language; or that none does."""
    rows = [row for row in rows if row["scope"] == "low" and row["difference"] != "NA"]
    if not rows:
        return []
    better = [row for row in rows if row["distinguishable"] == "yes" and float(row["difference"]) < 0]
    if not better:
        return [
            "No calibration text lowers the low-resource group's loss distinguishably below calibrating on every "
            "language."
        ]
    best = min(better, key=lambda row: float(row["difference"]))
    shown = with_ci({"value": best["difference"], "ci_low": best["family_low"], "ci_high": best["family_high"]})
    return [
        f"Calibrating as `{best['strategy']}` does changes the low-resource group's loss by {shown} bits per byte "
        f"against `{best['versus']}`."
    ]


def _practical(model, lookup, strategies, calibration, ci_percent):
    """The first page's sentences on the practical quantizers of one model."""
    bits = sorted({number(model["storage"][name]["bits_per_weight"], 3) for name in strategies}, key=float)
    cost = bits[0] if len(bits) == 1 else f"{bits[0]}–{bits[-1]}"
    subject = f"The {_quantizers(len(strategies))} ({_names(strategies)}; {cost} bits per weight of the whole model)"
    sentences = [
        f"{subject} cost the low-resource group {_span(lookup, strategies, 'low', 'mean_delta_bpb')} bits per byte "
        f"and the high-resource group {_span(lookup, strategies, 'high', 'mean_delta_bpb')}; robust disparity "
        f"(low ÷ high) runs {_span(lookup, strategies, 'disparity', 'robust_disparity')}."
    ]
    if any((name, "all", "mean_kld_bpb") in lookup for name in strategies):
        sentences.append(
            f"The KL divergence from the unquantized model's predictions runs "
            f"{_span(lookup, strategies, 'all', 'mean_kld_bpb')} bits per byte, and the share of positions where "
            f"both pick the same top token {_span(lookup, strategies, 'all', 'mean_top1_agreement')}."
        )
    sentences += _lowest_disparity(
        lookup, _disparity_order(lookup, strategies), model["paths"]["comparisons"], ci_percent
    )
    return sentences + calibration_advice(calibration)


def _practical_summary(lookup, strategies, calibration, noise_floor):
    """The abstract's short form: the practical quantizers of lowest and highest disparity, and
    the calibration text's effect. Where no disparity is defined, the group losses and the noise
    floor say why (a ratio of losses within the floor is not one)."""
    order = _disparity_order(lookup, strategies)
    if not order:
        return [
            f"The robust disparity of every one of the {_quantizers(len(strategies))} is undefined: they cost the "
            f"low-resource group {_span(lookup, strategies, 'low', 'mean_delta_bpb')} bits per byte and the "
            f"high-resource group {_span(lookup, strategies, 'high', 'mean_delta_bpb')}, against the model's "
            f"noise floor of {noise_floor} bits per byte."
        ] + _calibration_summary(calibration)
    lowest, highest = order[0], order[-1]
    sentence = f"Of {_quantizers(len(strategies))}, the one of lowest disparity, `{lowest}`, {_effect(lookup, lowest)}"
    kld = lookup.get((lowest, "all", "mean_kld_bpb"))
    if _defined(kld):
        sentence += f", its KL divergence from the unquantized model {with_ci(kld)} bits per byte"
    if highest != lowest:
        sentence += f"; the one of highest, `{highest}`, {_effect(lookup, highest)}"
    return [sentence + "."] + _calibration_summary(calibration)


def seed_quantizers(config, model):
    """The strategies run on `model` that quantize as the seeds did (absmax INT4), keeping nothing."""
    specs = config["strategy_specs"]
    return [
        name
        for name in model_strategies(config, model)
        if (strategy := parse_strategy(name, specs[name])).quantizer == "seed_absmax" and strategy.protection.is_empty
    ]


def _past_uniform(config, lookup, strategy):
    """The languages whose quantized BPB is defined and above guessing every byte uniformly."""
    return [
        lang
        for lang in config["languages"]
        if _defined(row := lookup.get((strategy, lang, "bpb_quantized"))) and float(row["value"]) > UNIFORM_BYTE_BITS
    ]


def _group_bpb(lookup, strategy, languages, metric):
    return sum(float(lookup[(strategy, lang, metric)]["value"]) for lang in languages) / len(languages)


def _exploding_d(lookup, strategy):
    """Why the seed disparity (D%) reads so much larger than the ΔBPB one, when both are defined."""
    seed = lookup[(strategy, "disparity", "seed_disparity")]
    robust = lookup[(strategy, "disparity", "robust_disparity")]
    if not (_defined(seed) and _defined(robust)):
        return f" Its seed disparity is {with_ci(seed)} and its ΔBPB disparity {with_ci(robust)}."
    return (
        f" Its seed disparity, {with_ci(seed)}, divides percentage increases of perplexity, which grows "
        f"exponentially with the loss; in bits per byte the same runs give {with_ci(robust)}."
    )


def _past_uniform_clause(config, broken):
    return (
        f"In {len(broken)} of {len(config['languages'])} languages ({', '.join(broken)}) it predicts worse than "
        f"guessing every byte uniformly ({number(UNIFORM_BYTE_BITS)} bits per byte): the model is destroyed there, "
        "not degraded."
    )


def _seed(config, lookup, strategy, broken):
    """The first page's sentence on the seeds' quantizer."""
    groups = {}
    for group in ("low", "high"):
        languages = config["groups"][group]
        groups[group] = (
            number(_group_bpb(lookup, strategy, languages, "bpb_baseline")),
            number(_group_bpb(lookup, strategy, languages, "bpb_quantized")),
            with_ci(lookup[(strategy, group, "mean_delta_bpb")]),
        )
    sentence = (
        f"`{strategy}`, the seeds' own quantizer, takes the low-resource group from {groups['low'][0]} to "
        f"{groups['low'][1]} bits per byte (ΔBPB {groups['low'][2]}) and the high-resource group from "
        f"{groups['high'][0]} to {groups['high'][1]} (ΔBPB {groups['high'][2]})."
    )
    if broken:
        sentence += " " + _past_uniform_clause(config, broken)
    return sentence + _exploding_d(lookup, strategy)


def _seed_summary(config, lookup, strategy, broken):
    """The abstract's short form of the seeds' quantizer."""
    loss = with_ci(lookup[(strategy, "low", "mean_delta_bpb")])
    sentence = f"`{strategy}`, the seeds' own quantizer, costs the low-resource group {loss} bits per byte."
    if broken:
        sentence += " " + _past_uniform_clause(config, broken)
    return sentence + _exploding_d(lookup, strategy)


def _claim_counts(claims, models):
    """Per model, the seeds' claims (their notes are the sources ending in .txt): how many, and
    which hold under the robust protocol, how many are undefined, how many hold under theirs."""
    seeds = [row for row in claims if row["source"].endswith(".txt")]
    counts = []
    for model in models:
        rows = [row for row in seeds if row["model"] == model["name"]]
        counts.append(
            {
                "model": model["name"],
                "total": len(rows),
                "held": sorted(row["claim"] for row in rows if row["robust"]["verdict"] == "holds"),
                "undefined": sum(row["robust"]["verdict"] == "undefined" for row in rows),
                "seed_held": sum(row["seed"]["verdict"] == "holds" for row in rows),
            }
        )
    return [count for count in counts if count["total"]]


def _claims(counts):
    parts = []
    for count in counts:
        held = f" ({_names(count['held'])})" if count["held"] else ""
        parts.append(
            f"for {count['model']} {len(count['held'])} of {count['total']} hold{held}, {count['undefined']} are "
            f"undefined, against {count['seed_held']} under the seeds' own protocol"
        )
    return ["Of the seeds' claims, under the robust protocol " + "; ".join(parts) + "."] if parts else []


def _claims_summary(counts):
    robust = " and ".join(f"{len(count['held'])} of {count['total']} for {count['model']}" for count in counts)
    own = " and ".join(str(count["seed_held"]) for count in counts)
    return (
        [f"The seeds' claims that hold under the robust protocol: {robust} ({own} under the seeds' own protocol)."]
        if counts
        else []
    )


def abstract(config, models, claims):
    """{"models": [{model, summary, practical, seed_summary, seed}], "claims", "claims_summary"}: for
    each model the abstract's short sentences and the first page's full ones."""
    ci_percent = f"{100 * config['stats']['ci_level']:g}"
    per_model = []
    for model in models:
        lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in model["rows"]}
        strategies = practical_strategies(config, model["name"])
        calibration = [row for row in read_tsv(model["paths"]["calibration"]) if row["strategy"] in strategies]
        seeds = [(name, _past_uniform(config, lookup, name)) for name in seed_quantizers(config, model["name"])]
        per_model.append(
            {
                "model": model["name"],
                "summary": (
                    _practical_summary(lookup, strategies, calibration, model["noise_floor"]["floor"])
                    if strategies
                    else []
                ),
                "practical": _practical(model, lookup, strategies, calibration, ci_percent) if strategies else [],
                "seed_summary": [_seed_summary(config, lookup, name, broken) for name, broken in seeds],
                "seed": [_seed(config, lookup, name, broken) for name, broken in seeds],
            }
        )
    counts = _claim_counts(claims, models)
    return {"models": per_model, "claims": _claims(counts), "claims_summary": _claims_summary(counts)}
