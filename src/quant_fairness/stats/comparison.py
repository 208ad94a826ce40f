"""Paired comparisons of the strategies of one model, and a ranking that says which
differences the data can tell apart, with the family-wise error controlled.

For every pair of strategies, the difference in robust disparity and in mean ΔBPB over
all languages is bootstrapped on the same segment resamples (the strategies were scored
on the same segments), so its interval is that of the paired difference. Comparing many
pairs at 95% each would call some differences real by chance, so a pair is
*distinguishable* only when its family-wise interval excludes zero: the pairs of one
metric form a family, and the bootstrap max-t (the (level) quantile over resamples of the
largest studentized deviation |d* − d| / se over the family's pairs) sets one critical value
c for all of them, so that every interval d ± c·se covers its true difference at once with
the given level. For ΔBPB the difference must also exceed the noise floor.

    scores = paired_scores(baseline_rows, strategy_rows)
    comparisons, ranking = compare_strategies("smollm2-135m", scores, groups, "en",
                                              noise_floor=1e-3, resamples=1000, seed=0)
    comparisons, _ = compare_strategies(..., pairs=[("rtn_int4_g32", "gptq_int4_g32")])   # a − b
"""

from itertools import combinations

import numpy as np

from quant_fairness.stats.bootstrap import ci_note, percentile_interval, resample_indices
from quant_fairness.stats.disparity import ALL_LANGUAGES, check_languages, metric_row, strategy_metrics

COMPARED = {
    "robust_disparity": ("disparity", "robust_disparity"),
    "mean_delta_bpb": (ALL_LANGUAGES, "mean_delta_bpb"),
    "kld_disparity": ("disparity", "kld_disparity"),
    "mean_kld_bpb": (ALL_LANGUAGES, "mean_kld_bpb"),
}
# Differences of these must also exceed their noise floor (ΔBPB's, and KLD's) to count.
FLOORED = {"mean_delta_bpb": "ΔBPB", "mean_kld_bpb": "KLD", "delta_bpb": "ΔBPB"}
FAMILY_METHOD = "bootstrap max-t"
COMPARISON_COLUMNS = (
    "model",
    "metric",
    "strategy",
    "versus",
    "difference",
    "ci_low",
    "ci_high",
    "family_low",
    "family_high",
    "family_size",
    "distinguishable",
    "note",
)
# Per language and group: one family of every (pair, scope).
LANGUAGE_COLUMNS = (*COMPARISON_COLUMNS[:4], "scope", *COMPARISON_COLUMNS[4:])
RANKING_COLUMNS = (
    "model",
    "metric",
    "rank",
    "strategy",
    "value",
    "ci_low",
    "ci_high",
    "indistinguishable_from",
    "note",
)


def _resampled(difference):
    """Replicates usable for the family: all defined and not all equal (se > 0)."""
    replicates = difference[1:]
    return not np.isnan(difference).any() and np.std(replicates) > 0


def family_critical_value(differences, level):
    """The bootstrap max-t critical value over `differences` (arrays: row 0 the point estimate,
    rows 1.. the replicates), or None if no pair can enter the family."""
    usable = [d for d in differences if _resampled(d)]
    if not usable:
        return None
    studentized = [np.abs(d[1:] - d[0]) / np.std(d[1:], ddof=1) for d in usable]
    return float(np.quantile(np.max(studentized, axis=0), level))


def _difference_row(model, metric, strategy, versus, difference, level, floor, critical, family_size):
    row = {"model": model, "metric": metric, "strategy": strategy, "versus": versus, "note": ""}
    row["family_size"] = family_size
    if np.isnan(difference[0]):
        row["note"] = "undefined: the metric is undefined for one of the two strategies"
        return row
    row["difference"] = float(difference[0])
    interval = percentile_interval(difference[1:], level)
    if interval is None:
        # Without an interval the data cannot be said to resolve the difference.
        row["note"], row["distinguishable"] = ci_note(difference[1:]), "no"
        return row
    row["ci_low"], row["ci_high"] = interval
    row["distinguishable"] = "no"
    if critical is not None and _resampled(difference):
        half = critical * float(np.std(difference[1:], ddof=1))
        row["family_low"], row["family_high"] = float(difference[0] - half), float(difference[0] + half)
        row["distinguishable"] = "yes" if row["family_low"] > 0 or row["family_high"] < 0 else "no"
    if metric in FLOORED and abs(difference[0]) < floor:
        row["note"] = f"below the {FLOORED[metric]} noise floor: |difference| < {floor:.3g} bits/byte"
        row["distinguishable"] = "no"
    return row


def _ranking(model, metric, series, comparisons, level):
    """Strategies by point value (ascending, undefined last), each with the strategies it
    cannot be told apart from."""
    tied = {strategy: [] for strategy in series}
    for row in comparisons:
        if row["metric"] == metric and row.get("distinguishable") == "no":
            tied[row["strategy"]].append(row["versus"])
            tied[row["versus"]].append(row["strategy"])
    defined = sorted((s for s in series if not np.isnan(series[s][0])), key=lambda s: (series[s][0], s))
    undefined = sorted(s for s in series if np.isnan(series[s][0]))
    rows = []
    for rank, strategy in enumerate(defined + undefined, start=1):
        row = metric_row(model, strategy, None, metric, series[strategy], level)
        row.pop("scope")
        if "value" in row:
            row["rank"] = rank
        else:
            row["note"] = "undefined: not ranked"
        row["indistinguishable_from"] = ",".join(sorted(tied[strategy]))
        rows.append(row)
    return rows


def compare_strategies(
    model, scores, groups, reference, noise_floor, resamples, seed, level=0.95, pairs=None, kld_floor=0.0
):
    """(comparison rows, ranking rows) per metric of COMPARED, over the strategies that have it (the
    divergences need scores compared with the reference). `pairs`: (a, b) pairs compared as a − b,
    one family per metric; default every pair of those strategies, in name order."""
    check_languages(scores.languages, groups, reference)
    index = resample_indices(len(scores.ids), resamples, seed)
    metrics = {
        strategy: strategy_metrics(scores, strategy, groups, reference, noise_floor, index, kld_floor)
        for strategy in scores.nll
    }
    floors = {"mean_delta_bpb": noise_floor, "mean_kld_bpb": kld_floor}
    comparisons, ranking = [], []
    for metric, key in COMPARED.items():
        series = {strategy: values[key] for strategy, values in metrics.items() if key in values}
        family = list(combinations(sorted(series), 2)) if pairs is None else pairs
        family = [(a, b) for a, b in family if a in series and b in series]
        differences = [series[a] - series[b] for a, b in family]
        critical = family_critical_value(differences, level)
        rows = [
            _difference_row(model, metric, a, b, difference, level, floors.get(metric, 0.0), critical, len(family))
            for (a, b), difference in zip(family, differences, strict=True)
        ]
        comparisons += rows
        if series:
            ranking += _ranking(model, metric, series, rows, level)
    return comparisons, ranking


def language_differences(model, scores, pairs, groups, reference, noise_floor, resamples, seed, level=0.95):
    """Rows of the paired difference a − b in ΔBPB of each language and group (all, high, low), for
    every (a, b) of `pairs`: one family over all pairs and scopes (bootstrap max-t)."""
    check_languages(scores.languages, groups, reference)
    index = resample_indices(len(scores.ids), resamples, seed)
    names = sorted({name for pair in pairs for name in pair})
    metrics = {name: strategy_metrics(scores, name, groups, reference, noise_floor, index) for name in names}
    scopes = [(lang, "delta_bpb") for lang in scores.languages]
    scopes += [(group, "mean_delta_bpb") for group in (ALL_LANGUAGES, *groups)]
    family = [
        (a, b, scope, metrics[a][(scope, metric)] - metrics[b][(scope, metric)])
        for a, b in pairs
        for scope, metric in scopes
    ]
    critical = family_critical_value([difference for *_, difference in family], level)
    rows = []
    for a, b, scope, difference in family:
        row = _difference_row(model, "delta_bpb", a, b, difference, level, noise_floor, critical, len(family))
        rows.append({**row, "scope": scope})
    return rows
