"""Does degradation follow how well-resourced a language is? Correlation across languages,
per model and strategy, of each degradation metric with each resource predictor.

Predictors: every resource scale (`resource_<scale>`: the configured ones, e.g. the seed's
hand-set levels, and the built-in `log10_speakers` from results/corpus/languages.tsv), and
two proxies the model itself gives: its baseline BPB and its tokens per byte (the tokenizer
premium). Pearson and Spearman (average ranks for ties);
the p-value permutes the degradation values across languages (two-sided, exact when
every order fits in `permutations`); the interval bootstraps segments, so it says how
stable r is given this text, while p speaks to the handful of languages. A row notes
how many languages' ΔBPB lies below the noise floor: their order is numerical noise.

    scores = paired_scores(baseline_rows, strategy_rows)
    rows = correlation_rows("smollm2-135m", scores, {"seed": {"en": 1.0, "he": 0.15, ...}},
                            noise_floor=2e-3, resamples=1000, permutations=50000, seed=0)
"""

import math
from functools import lru_cache
from itertools import permutations as all_orders

import numpy as np

from quant_fairness.data.speakers import SPEAKER_SCALE, speaker_scale
from quant_fairness.stats.bootstrap import percentile_interval, resample_indices
from quant_fairness.stats.disparity import language_metrics
from quant_fairness.stats.metrics import bpb

# kld_bpb where the strategy's scores compare with the reference.
DEGRADATION = ("delta_bpb", "relative_delta_bpb", "degradation_pct", "kld_bpb")
MODEL_PREDICTORS = ("baseline_bpb", "tokens_per_byte")  # what the model's own scores say of a language
METHODS = ("pearson", "spearman")
COLUMNS = (
    "model",
    "strategy",
    "metric",
    "predictor",
    "method",
    "languages",
    "value",
    "ci_low",
    "ci_high",
    "p_value",
    "note",
)
MIN_LANGUAGES = 3


def average_ranks(values):
    """Ranks (1-based) along the last axis, tied values sharing their mean rank."""
    values = np.asarray(values, dtype=float)
    below = (values[..., None, :] < values[..., :, None]).sum(-1)
    equal = (values[..., None, :] == values[..., :, None]).sum(-1)
    return below + (equal + 1) / 2


def pearson(x, y):
    """Pearson r along the last axis; NaN where either side is constant."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    xc, yc = x - x.mean(-1, keepdims=True), y - y.mean(-1, keepdims=True)
    spread = np.sqrt((xc**2).sum(-1) * (yc**2).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spread > 0, (xc * yc).sum(-1) / np.where(spread > 0, spread, 1.0), np.nan)


def coefficient(x, y, method):
    if method == "spearman":
        return pearson(average_ranks(x), average_ranks(y))
    return pearson(x, y)


@lru_cache(maxsize=16)
def language_orders(n, permutations, seed):
    """Every order of n languages when they fit in `permutations`, else that many random ones.
    Returns (orders, exact)."""
    if math.factorial(n) <= permutations:
        return np.array(list(all_orders(range(n)))), True
    orders = np.tile(np.arange(n), (permutations, 1))
    return np.random.default_rng(seed).permuted(orders, axis=1), False


def permutation_p(x, y, method, permutations, seed):
    """Two-sided p of coefficient(x, y) under permuting y across languages."""
    observed = coefficient(x, y, method)
    if np.isnan(observed):
        return float("nan")
    orders, exact = language_orders(len(x), permutations, seed)
    null = coefficient(np.broadcast_to(x, orders.shape), np.asarray(y)[orders], method)
    # A tolerance so that permutations tying the observed |r| count as extreme despite rounding.
    extreme = int((np.abs(null) >= abs(observed) - 1e-12).sum())
    return extreme / len(orders) if exact else (extreme + 1) / (len(orders) + 1)


def predictor_names(resource_levels):
    """The predictors a run correlates with: the model's own, and resource_<scale> per configured
    scale and the built-in speaker scale."""
    return [*MODEL_PREDICTORS, *(f"resource_{scale}" for scale in sorted({*resource_levels, SPEAKER_SCALE}))]


def resource_scales(configured, language_rows):
    """The configured resource scales with the built-in speaker scale of the language table."""
    return {**configured, SPEAKER_SCALE: speaker_scale(language_rows)}


def predictor_values(scores, index, resource_levels):
    """{predictor: (languages, array rows × languages)} for the languages each one covers."""
    languages = scores.languages
    n_bytes = {lang: scores.n_bytes[lang][index].sum(1) for lang in languages}
    values = {
        "baseline_bpb": (
            languages,
            np.stack([bpb(scores.baseline[lang][index].sum(1), n_bytes[lang]) for lang in languages], -1),
        ),
        "tokens_per_byte": (
            languages,
            np.stack([scores.tokens[lang][index].sum(1) / n_bytes[lang] for lang in languages], -1),
        ),
    }
    for scale, levels in sorted(resource_levels.items()):
        covered = [lang for lang in languages if lang in levels]
        column = np.array([levels[lang] for lang in covered], dtype=float)
        values[f"resource_{scale}"] = (covered, np.broadcast_to(column, (len(index), len(covered))))
    return values


def degradation_values(scores, strategy, index):
    """{metric: array rows × languages} over scores.languages, for each metric the strategy has."""
    per_lang = [language_metrics(scores, strategy, lang, index) for lang in scores.languages]
    return {metric: np.stack([m[metric] for m in per_lang], -1) for metric in DEGRADATION if metric in per_lang[0]}


def correlation_row(degradation, predictor, languages, all_languages, method, permutations, seed, level):
    """value (r), interval and permutation p of one metric against one predictor."""
    row = {"method": method, "languages": ",".join(languages), "note": ""}
    if len(languages) < MIN_LANGUAGES:
        row["note"] = f"undefined: {len(languages)} languages, at least {MIN_LANGUAGES} needed"
        return row
    columns = [all_languages.index(lang) for lang in languages]
    r = coefficient(predictor, degradation[:, columns], method)
    if np.isnan(r[0]):
        row["note"] = "undefined: the predictor or the degradation is the same in every language"
        return row
    row["value"] = float(r[0])
    row["p_value"] = permutation_p(predictor[0], degradation[0, columns], method, permutations, seed)
    interval = percentile_interval(r[1:], level)
    if interval is None:
        row["note"] = "CI undefined: constant in some resamples"
    else:
        row["ci_low"], row["ci_high"] = interval
    return row


def correlation_rows(
    model, scores, resource_levels, noise_floor, resamples, permutations, seed, level=0.95, kld_floor=0.0
):
    index = resample_indices(len(scores.ids), resamples, seed)
    predictors = predictor_values(scores, index, resource_levels)
    rows = []
    for strategy in scores.nll:
        degradation = degradation_values(scores, strategy, index)
        for metric in degradation:
            # A language whose effect is within its kind's noise floor is ordered by noise.
            kind, floor = ("KLD", kld_floor) if metric == "kld_bpb" else ("ΔBPB", noise_floor)
            effect = degradation["kld_bpb" if metric == "kld_bpb" else "delta_bpb"][0]
            below_floor = np.abs(effect) < floor
            for predictor, (languages, values) in predictors.items():
                for method in METHODS:
                    row = correlation_row(
                        degradation[metric], values, languages, scores.languages, method, permutations, seed, level
                    )
                    below = [lang for lang in languages if below_floor[scores.languages.index(lang)]]
                    unscaled = [lang for lang in scores.languages if lang not in languages]
                    notes = [
                        row["note"],
                        f"{kind} below the noise floor in {', '.join(below)}" if below and "value" in row else "",
                        f"no level for {', '.join(unscaled)}: left out" if unscaled else "",
                    ]
                    row["note"] = "; ".join(filter(None, notes))
                    rows.append({"model": model, "strategy": strategy, "metric": metric, "predictor": predictor, **row})
    return rows
