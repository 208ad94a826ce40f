"""Paired comparisons of the strategies of one model, and a ranking that says which
differences the data can tell apart.

For every pair of strategies, the difference in robust disparity and in mean ΔBPB over
all languages is bootstrapped on the same segment resamples (the strategies were scored
on the same segments), so the interval is that of the paired difference. A difference
is distinguishable from zero when its percentile interval exists and excludes zero, and
(for ΔBPB) the difference exceeds the noise floor.

    scores = paired_scores(baseline_rows, strategy_rows)
    comparisons, ranking = compare_strategies("smollm2-135m", scores, groups, "en",
                                              noise_floor=1e-3, resamples=1000, seed=0)
"""

from itertools import combinations

import numpy as np

from quant_fairness.stats.bootstrap import ci_note, percentile_interval, resample_indices
from quant_fairness.stats.disparity import ALL_LANGUAGES, check_languages, metric_row, strategy_metrics

COMPARED = {"robust_disparity": ("disparity", "robust_disparity"), "mean_delta_bpb": (ALL_LANGUAGES, "mean_delta_bpb")}
COMPARISON_COLUMNS = (
    "model",
    "metric",
    "strategy",
    "versus",
    "difference",
    "ci_low",
    "ci_high",
    "distinguishable",
    "note",
)
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


def _difference_row(model, metric, strategy, versus, difference, level, noise_floor):
    row = {"model": model, "metric": metric, "strategy": strategy, "versus": versus, "note": ""}
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
    row["distinguishable"] = "yes" if interval[0] > 0 or interval[1] < 0 else "no"
    if metric == "mean_delta_bpb" and abs(difference[0]) < noise_floor:
        row["note"], row["distinguishable"] = f"below the noise floor: |difference| < {noise_floor:.3g} bits/byte", "no"
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


def compare_strategies(model, scores, groups, reference, noise_floor, resamples, seed, level=0.95):
    """(comparison rows, ranking rows) over every pair of the model's strategies."""
    check_languages(scores.languages, groups, reference)
    index = resample_indices(len(scores.ids), resamples, seed)
    metrics = {
        strategy: strategy_metrics(scores, strategy, groups, reference, noise_floor, index) for strategy in scores.nll
    }
    comparisons, ranking = [], []
    for metric, key in COMPARED.items():
        series = {strategy: values[key] for strategy, values in metrics.items()}
        pairs = [
            _difference_row(model, metric, a, b, series[a] - series[b], level, noise_floor)
            for a, b in combinations(sorted(series), 2)
        ]
        comparisons += pairs
        ranking += _ranking(model, metric, series, pairs, level)
    return comparisons, ranking
