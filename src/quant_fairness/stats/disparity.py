"""Per-language and group disparity metrics with paired bootstrap confidence intervals.

Segment ids are resampled with replacement once per replicate and the same resample
is used for the baseline and the quantized scores and for every language (the corpus
is parallel), so the intervals respect the pairing.

    scores = paired_scores(baseline_rows, {"rtn_int4_g128": rows})
    rows = disparity_rows("smollm2-135m", scores, groups={"high": ["en", "de"], "low": ["he", "ar"]},
                          reference="en", noise_floor=1e-3, resamples=1000, seed=0)

Each row: model, strategy, scope (a language, a group, "all" or "disparity"), metric,
value, ci_low, ci_high, note. An undefined value is NA with its reason in `note`; an
effect smaller than the noise floor keeps its value and says so in `note`.
"""

import numpy as np

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.bootstrap import ci_note, percentile_interval, resample_indices
from quant_fairness.stats.metrics import (
    bpb,
    degradation_pct,
    delta_bpb,
    kld_bpb,
    kld_per_token,
    ppl,
    ratio,
    relative_delta_bpb,
    top1_agreement,
    why_undefined,
)

COLUMNS = ("model", "strategy", "scope", "metric", "value", "ci_low", "ci_high", "note")
ALL_LANGUAGES = "all"
GROUP_MEANS = ("degradation_pct", "delta_bpb", "kld_bpb", "top1_agreement")  # averaged over a group's languages
# Metrics that measure a loss, flagged when their scope's ΔBPB is within the noise floor.
EFFECTS = {"delta_bpb", "relative_delta_bpb", "degradation_pct", "mean_delta_bpb", "mean_degradation_pct"}
# Divergences, flagged when their scope's KLD per byte is within the KLD noise floor.
KLD_EFFECTS = {"kld_bpb", "kld_per_token", "mean_kld_bpb"}
# Every metric that compares with the reference's distributions rather than with the text.
DIVERGENCE_METRICS = {*KLD_EFFECTS, "top1_agreement", "mean_top1_agreement", "kld_disparity"}


def language_metrics(scores, strategy, lang, index):
    """One language's metrics, one value per row of `index`; the divergence from the reference
    too where the strategy's scores carry it."""
    t, b = scores.tokens[lang][index].sum(1), scores.n_bytes[lang][index].sum(1)
    nll_b, nll_q = scores.baseline[lang][index].sum(1), scores.nll[strategy][lang][index].sum(1)
    ppl_b, ppl_q = ppl(nll_b, t), ppl(nll_q, t)
    bpb_b, bpb_q = bpb(nll_b, b), bpb(nll_q, b)
    metrics = {
        "ppl_baseline": ppl_b,
        "ppl_quantized": ppl_q,
        "bpb_baseline": bpb_b,
        "bpb_quantized": bpb_q,
        "degradation_pct": degradation_pct(ppl_q, ppl_b),
        "delta_bpb": delta_bpb(bpb_q, bpb_b),
        "relative_delta_bpb": relative_delta_bpb(bpb_q, bpb_b),
    }
    if strategy in scores.kl:
        kl, agree = scores.kl[strategy][lang][index].sum(1), scores.agree[strategy][lang][index].sum(1)
        metrics |= {
            "kld_bpb": kld_bpb(kl, b),
            "kld_per_token": kld_per_token(kl, t),
            "top1_agreement": top1_agreement(agree, t),
        }
    return metrics


def strategy_metrics(scores, strategy, groups, reference, noise_floor, index, kld_floor=0.0):
    """{(scope, metric): array over rows of `index`}; NaN marks an undefined ratio."""
    per_lang = {lang: language_metrics(scores, strategy, lang, index) for lang in scores.languages}
    out = {(lang, name): values for lang, metrics in per_lang.items() for name, values in metrics.items()}
    ref = per_lang[reference]
    for lang, m in per_lang.items():
        if lang == reference:
            continue
        out[(lang, "delta_bpb_ratio_vs_" + reference)] = ratio(m["delta_bpb"], ref["delta_bpb"], noise_floor)
        out[(lang, "degradation_ratio_vs_" + reference)] = ratio(
            m["degradation_pct"], ref["degradation_pct"], noise_floor, effect=ref["delta_bpb"]
        )
    averaged = [name for name in GROUP_MEANS if name in ref]
    for group, langs in {ALL_LANGUAGES: scores.languages, **groups}.items():
        for name in averaged:
            out[(group, "mean_" + name)] = np.mean([per_lang[lang][name] for lang in langs], axis=0)
    out[("disparity", "seed_disparity")] = ratio(
        out[("low", "mean_degradation_pct")],
        out[("high", "mean_degradation_pct")],
        noise_floor,
        effect=out[("high", "mean_delta_bpb")],
    )
    out[("disparity", "robust_disparity")] = ratio(
        out[("low", "mean_delta_bpb")], out[("high", "mean_delta_bpb")], noise_floor
    )
    if "kld_bpb" in ref:
        out[("disparity", "kld_disparity")] = ratio(
            out[("low", "mean_kld_bpb")], out[("high", "mean_kld_bpb")], kld_floor
        )
    return out


def _why_undefined(metric, values, reference, noise_floor, kld_floor):
    """Reason text for an undefined point estimate, naming the denominator."""
    if metric.endswith("_vs_" + reference):
        kind = "delta_bpb" if metric.startswith("delta_bpb") else "degradation_pct"
        label = f"{'ΔBPB' if kind == 'delta_bpb' else 'D%'}({reference})"
        return why_undefined(label, values[(reference, kind)][0], noise_floor, values[(reference, "delta_bpb")][0])
    if metric == "kld_disparity":
        high = values[("high", "mean_kld_bpb")][0]
        return why_undefined("mean KLD of the high group", high, kld_floor, high, unit="KLD")
    kind = "delta_bpb" if metric == "robust_disparity" else "degradation_pct"
    label = f"mean {'ΔBPB' if kind == 'delta_bpb' else 'D%'} of the high group"
    return why_undefined(label, values[("high", "mean_" + kind)][0], noise_floor, values[("high", "mean_delta_bpb")][0])


def effect_size(values, scope, kind="delta_bpb"):
    """The ΔBPB (or another per-language metric) of a scope: a language's own, or a group's mean."""
    return values.get((scope, kind), values.get((scope, "mean_" + kind)))


def check_languages(languages, groups, reference):
    for lang in [reference, *groups.get("high", []), *groups.get("low", [])]:
        if lang not in languages:
            raise QuantFairnessError(f"language {lang!r} named in groups/reference has no scores; have {languages}")


def metric_row(model, strategy, scope, metric, series, level):
    """A table row from a point estimate and its replicates (NaN point: the caller explains)."""
    row = {"model": model, "strategy": strategy, "scope": scope, "metric": metric, "note": ""}
    if np.isnan(series[0]):
        return row
    row["value"] = float(series[0])
    interval = percentile_interval(series[1:], level)
    if interval is None:
        row["note"] = ci_note(series[1:])
    else:
        row["ci_low"], row["ci_high"] = interval
    return row


def _below_floor(metric, values, scope, noise_floor, kld_floor):
    """The note of an effect within the noise floor of its kind, or ""."""
    if metric in EFFECTS and abs(effect_size(values, scope)[0]) < noise_floor:
        return f"below the noise floor: |ΔBPB| < {noise_floor:.3g} bits/byte"
    if metric in KLD_EFFECTS and effect_size(values, scope, "kld_bpb")[0] < kld_floor:
        return f"below the noise floor: KLD < {kld_floor:.3g} bits/byte"
    return ""


def disparity_rows(model, scores, groups, reference, noise_floor, resamples, seed, level=0.95, kld_floor=0.0):
    check_languages(scores.languages, groups, reference)
    index = resample_indices(len(scores.ids), resamples, seed)
    rows = []
    for strategy in scores.nll:
        values = strategy_metrics(scores, strategy, groups, reference, noise_floor, index, kld_floor)
        for (scope, metric), series in values.items():
            row = metric_row(model, strategy, scope, metric, series, level)
            if "value" not in row:
                # An undefined estimate gets no interval either, whatever the resamples say.
                row["note"] = "undefined: " + _why_undefined(metric, values, reference, noise_floor, kld_floor)
            else:
                row["note"] = "; ".join(
                    filter(None, [_below_floor(metric, values, scope, noise_floor, kld_floor), row["note"]])
                )
            rows.append(row)
    return rows
