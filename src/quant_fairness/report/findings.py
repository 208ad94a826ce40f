"""The synthesis chapter's findings and recommendations, derived from the run's tables: each is
a sentence carrying its numbers and intervals, and each recommendation follows from a stated
test (a paired interval that excludes zero), so another run can reach the opposite advice.

    per_model = findings(config, models)   # models: report_context's, with their table paths
    front = pareto_front([(bits_per_weight, disparity, strategy), ...])
"""

import math

from quant_fairness.plan import headline_strategy, preservation_points
from quant_fairness.report.formatting import number, with_ci
from quant_fairness.stats.comparison import FAMILY_METHOD
from quant_fairness.tables import read_tsv


def _defined(row):
    return row is not None and row["value"] != "NA"


def _excludes_zero(row):
    return row["ci_low"] != "NA" and (float(row["ci_low"]) > 0 or float(row["ci_high"]) < 0)


def _headline_facts(strategy, lookup, languages):
    low, high = lookup[(strategy, "low", "mean_delta_bpb")], lookup[(strategy, "high", "mean_delta_bpb")]
    facts = [
        f"Under `{strategy}` the low-resource group loses {with_ci(low)} bits per byte and the "
        f"high-resource group {with_ci(high)}: robust disparity "
        f"{with_ci(lookup[(strategy, 'disparity', 'robust_disparity')])}."
    ]
    deltas = sorted((float(lookup[(strategy, lang, "delta_bpb")]["value"]), lang) for lang in languages)
    facts.append(
        f"Hardest hit: {deltas[-1][1]} ({number(deltas[-1][0])} bits/byte); "
        f"least: {deltas[0][1]} ({number(deltas[0][0])} bits/byte)."
    )
    return facts


def _correlation_facts(path, strategy):
    facts = []
    for row in read_tsv(path):
        if (row["strategy"], row["metric"], row["method"]) != (strategy, "delta_bpb", "pearson"):
            continue
        p_value = "" if row["p_value"] == "NA" else f", permutation p = {number(row['p_value'])}"
        facts.append(f"ΔBPB against {row['predictor']}: Pearson r = {with_ci(row)}{p_value}.")
    return facts


def _metric_advice(lookup, strategy):
    seed, robust = (
        lookup[(strategy, "disparity", "seed_disparity")],
        lookup[(strategy, "disparity", "robust_disparity")],
    )
    if not (_defined(seed) and _defined(robust)) or float(seed["value"]) < 2 * float(robust["value"]):
        return []
    return [
        f"Compare languages by bits per byte, not perplexity: `{strategy}`'s disparity is "
        f"{number(seed['value'])} in the seeds' D% but {number(robust['value'])} in ΔBPB, because "
        "D% divides perplexities that grow exponentially with the loss and count different tokens per language."
    ]


def _family(comparisons_path, metric):
    """How the pairs of `metric` were judged: "family-wise intervals over N pairs (method)"."""
    sizes = {row["family_size"] for row in read_tsv(comparisons_path) if row["metric"] == metric}
    size = sizes.pop() if len(sizes) == 1 else "all"
    return f"family-wise intervals over the {size} pairs ({FAMILY_METHOD})"


def _strategy_advice(ranking_path, comparisons_path, storage):
    ranking = [row for row in read_tsv(ranking_path) if row["metric"] == "robust_disparity" and _defined(row)]
    if not ranking:
        return []
    best = ranking[0]
    ranked = {row["strategy"]: row for row in ranking}
    tied = [best["strategy"], *(name for name in best["indistinguishable_from"].split(",") if name in ranked)]
    lowest = min(storage[name]["bits_per_weight"] for name in tied)
    cheapest = sorted(name for name in tied if storage[name]["bits_per_weight"] == lowest)
    choices = [f"`{name}` (robust disparity {with_ci(ranked[name])})" for name in cheapest]
    choice = choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
    advice = f"For the lowest disparity at the lowest cost use {choice}, at {number(lowest, 4)} bits/weight: "
    among = f"of the {len(ranking)} strategies whose disparity is defined"
    family = _family(comparisons_path, "robust_disparity")
    if len(tied) == 1:
        return [advice + f"every other one {among} is distinguishably less fair ({family} exclude 0)."]
    return [
        advice + f"{'they are' if len(cheapest) > 1 else 'it is'} the cheapest of the {len(tied)} strategies {among} "
        f"that cannot be told apart from the fairest ({family} contain 0)."
    ]


def _sweep_advice(test_path, steps):
    if not steps:
        return ["The layer sweep chose no blocks: the disparity was undefined for every block."]
    blocks = steps[-1]["layers"]
    difference = next((row for row in read_tsv(test_path) if row["scope"] == "difference"), None)
    if not _defined(difference):
        return [f"Blocks {blocks} were chosen, but their effect on held-out test text is undefined."]
    unprotected = difference["strategy"].split(" - ")[0]
    if _excludes_zero(difference) and float(difference["value"]) > 0:
        return [
            f"Keeping blocks {blocks} in full precision lowers the robust disparity of `{unprotected}` "
            f"by {with_ci(difference)} on held-out test text: protect them."
        ]
    return [
        f"Keeping blocks {blocks} does not lower the robust disparity of `{unprotected}` on held-out test "
        f"text (difference {with_ci(difference)}): the sweep's choice does not generalise, do not rely on it."
    ]


def _reversed(row):
    """A comparison row of a − b as the row of b − a."""
    flipped = {**row, "strategy": row["versus"], "versus": row["strategy"]}
    flipped["difference"] = -float(row["difference"])
    for low, high in (("ci_low", "ci_high"), ("family_low", "family_high")):
        if row[low] != "NA":
            flipped[low], flipped[high] = -float(row[high]), -float(row[low])
    return flipped


def _preservation_advice(points, comparisons_path):
    if not points:
        return []
    base = points[0][1]
    rows = {}
    for row in read_tsv(comparisons_path):
        if row["metric"] == "robust_disparity" and row["difference"] != "NA":
            rows[(row["strategy"], row["versus"])] = row
            rows[(row["versus"], row["strategy"])] = _reversed(row)
    helped, sentences = [], []
    for share, name in points[1:]:
        row = rows.get((name, base))
        if row is None:
            continue
        shown = with_ci({"value": row["difference"], "ci_low": row["family_low"], "ci_high": row["family_high"]})
        sentences.append(f"{number(share)}%: {shown}")
        if row["distinguishable"] == "yes" and float(row["difference"]) < 0:
            helped.append(number(share))
    if not sentences:
        return []
    verdict = (
        f"keeping {', '.join(helped)}% lowers it measurably."
        if helped
        else "no share kept lowers it measurably: magnitude preservation is not a fairness fix here."
    )
    family = _family(comparisons_path, "robust_disparity")
    return [
        f"Change in robust disparity from keeping the top k% by magnitude, with {family} "
        f"({'; '.join(sentences)}): {verdict}"
    ]


def _family_interval(row):
    """A comparison row's difference with its family-wise interval."""
    return with_ci({"value": row["difference"], "ci_low": row["family_low"], "ci_high": row["family_high"]})


def calibration_advice(rows):
    """Which calibration text to use, from the low-resource group's loss under each setting against
    the same quantizer calibrated on every language (family-wise intervals), per quantizer; `rows`:
    a calibration table's (results/statistics/<model>/calibration.tsv)."""
    rows = [row for row in rows if row["scope"] == "low" and row["difference"] != "NA"]
    advice = []
    for versus in dict.fromkeys(row["versus"] for row in rows):
        settings = [row for row in rows if row["versus"] == versus]
        family = f"family-wise intervals over {settings[0]['family_size']} comparisons, {FAMILY_METHOD}"
        better = [row for row in settings if row["distinguishable"] == "yes" and float(row["difference"]) < 0]
        worse = [row for row in settings if row["distinguishable"] == "yes" and float(row["difference"]) > 0]
        if better:
            best = min(better, key=lambda row: float(row["difference"]))
            sentence = (
                f"Calibrate as `{best['strategy']}` does: the low-resource group's ΔBPB changes by "
                f"{_family_interval(best)} bits per byte against `{versus}` ({family})."
            )
        else:
            differences = ", ".join(f"`{row['strategy']}` {_family_interval(row)}" for row in settings)
            sentence = (
                f"No calibration setting lowers the low-resource group's loss distinguishably below `{versus}`'s "
                f"(differences in bits/byte: {differences}; {family}): calibrate on every language, which needs "
                "no choice of language."
            )
        if worse:
            avoided = ", ".join(f"`{row['strategy']}`" for row in worse)
            sentence += f" Avoid {avoided}: the low-resource group loses distinguishably more."
        advice.append(sentence)
    return advice


def pareto_front(points):
    """The (bits, disparity, name) points no other point beats on both cost and disparity."""
    front, best = [], math.inf
    for point in sorted(points):
        if point[1] < best:
            front.append(point)
            best = point[1]
    return front


def findings(config, models):
    """[{model, facts, recommendations}] for every model of the run."""
    results = []
    for model in models:
        lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in model["rows"]}
        strategy = headline_strategy(config, model["name"])
        paths = model["paths"]
        results.append(
            {
                "model": model["name"],
                "facts": _headline_facts(strategy, lookup, config["languages"])
                + _correlation_facts(paths["correlation"], strategy),
                "recommendations": _strategy_advice(paths["ranking"], paths["comparisons"], model["storage"])
                + (_sweep_advice(paths["sweep_test"], model["sweep"]["steps"]) if model["sweep"] else [])
                + _preservation_advice(preservation_points(config, model["name"]), paths["comparisons"])
                + calibration_advice(read_tsv(paths["calibration"]))
                + _metric_advice(lookup, strategy),
            }
        )
    return results
