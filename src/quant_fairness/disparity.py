"""Per-language and group disparity metrics with paired bootstrap confidence intervals.

Segment ids are resampled with replacement once per replicate and the same
resample is used for the baseline and the quantized scores and for every language
(the corpus is parallel), so the intervals respect the pairing.

    rows = disparity_rows("smollm2-135m", baseline_scores, {"rtn_int4_g128": scores},
                          groups={"high": ["en", "de"], "low": ["he", "ar"]},
                          reference="en", noise_floor=1e-3, resamples=1000, seed=0)

Each row: model, strategy, scope (a language, a group, or "disparity"), metric, value,
ci_low, ci_high, note. An undefined value is NA with its reason in `note`.
"""

import numpy as np

from quant_fairness.errors import QuantFairnessError
from quant_fairness.metrics import bpb, degradation_pct, delta_bpb, ppl, ratio, relative_delta_bpb, why_undefined

COLUMNS = ("model", "strategy", "scope", "metric", "value", "ci_low", "ci_high", "note")


def _arrays(rows, ids, langs, what):
    """{lang: np.array over `ids`} of one score column."""
    lookup = {(r["lang"], r["id"]): r[what] for r in rows}
    try:
        return {lang: np.array([lookup[(lang, i)] for i in ids], dtype=float) for lang in langs}
    except KeyError as missing:
        raise QuantFairnessError(f"score tables are not paired: segment {missing.args[0]} is missing") from None


def _shared_ids(rows, langs):
    per_lang = [{r["id"] for r in rows if r["lang"] == lang} for lang in langs]
    return sorted(set.intersection(*per_lang))


def resample_indices(n, resamples, seed):
    """Row 0 is the identity (point estimate); rows 1.. are bootstrap resamples."""
    rng = np.random.default_rng(seed)
    return np.vstack([np.arange(n)[None, :], rng.integers(0, n, size=(resamples, n))])


def _language_metrics(base, quant, tokens, n_bytes, index):
    t, b = tokens[index].sum(1), n_bytes[index].sum(1)
    nll_b, nll_q = base[index].sum(1), quant[index].sum(1)
    ppl_b, ppl_q = ppl(nll_b, t), ppl(nll_q, t)
    bpb_b, bpb_q = bpb(nll_b, b), bpb(nll_q, b)
    return {
        "ppl_baseline": ppl_b,
        "ppl_quantized": ppl_q,
        "bpb_baseline": bpb_b,
        "bpb_quantized": bpb_q,
        "degradation_pct": degradation_pct(ppl_q, ppl_b),
        "delta_bpb": delta_bpb(bpb_q, bpb_b),
        "relative_delta_bpb": relative_delta_bpb(bpb_q, bpb_b),
    }


def strategy_metrics(baseline, quantized, tokens, n_bytes, groups, reference, noise_floor, index):
    """{(scope, metric): array over replicates}; NaN marks an undefined ratio."""
    per_lang = {
        lang: _language_metrics(baseline[lang], quantized[lang], tokens[lang], n_bytes[lang], index)
        for lang in baseline
    }
    out = {(lang, name): values for lang, metrics in per_lang.items() for name, values in metrics.items()}
    ref = per_lang[reference]
    for lang, m in per_lang.items():
        if lang == reference:
            continue
        out[(lang, "delta_bpb_ratio_vs_" + reference)] = ratio(m["delta_bpb"], ref["delta_bpb"], noise_floor)
        out[(lang, "degradation_ratio_vs_" + reference)] = ratio(
            m["degradation_pct"], ref["degradation_pct"], noise_floor, effect=ref["delta_bpb"]
        )
    means = {}
    for group, langs in groups.items():
        for name in ("degradation_pct", "delta_bpb"):
            means[(group, name)] = np.mean([per_lang[lang][name] for lang in langs], axis=0)
            out[(group, "mean_" + name)] = means[(group, name)]
    out[("disparity", "seed_disparity")] = ratio(
        means[("low", "degradation_pct")],
        means[("high", "degradation_pct")],
        noise_floor,
        effect=means[("high", "delta_bpb")],
    )
    out[("disparity", "robust_disparity")] = ratio(
        means[("low", "delta_bpb")], means[("high", "delta_bpb")], noise_floor
    )
    return out


def _why_undefined(metric, values, reference, noise_floor):
    """Reason text for an undefined point estimate, naming the denominator."""
    if metric.endswith("_vs_" + reference):
        kind = "delta_bpb" if metric.startswith("delta_bpb") else "degradation_pct"
        label = f"{'ΔBPB' if kind == 'delta_bpb' else 'D%'}({reference})"
        return why_undefined(label, values[(reference, kind)][0], noise_floor, values[(reference, "delta_bpb")][0])
    kind = "delta_bpb" if metric == "robust_disparity" else "degradation_pct"
    label = f"mean {'ΔBPB' if kind == 'delta_bpb' else 'D%'} of the high group"
    return why_undefined(label, values[("high", "mean_" + kind)][0], noise_floor, values[("high", "mean_delta_bpb")][0])


def disparity_rows(model, baseline_rows, strategy_rows, groups, reference, noise_floor, resamples, seed, level=0.95):
    langs = sorted({r["lang"] for r in baseline_rows})
    for lang in [reference, *groups.get("high", []), *groups.get("low", [])]:
        if lang not in langs:
            raise QuantFairnessError(f"language {lang!r} named in groups/reference has no scores; have {langs}")
    ids = _shared_ids(baseline_rows, langs)
    tokens = _arrays(baseline_rows, ids, langs, "tokens")
    n_bytes = _arrays(baseline_rows, ids, langs, "bytes")
    baseline = _arrays(baseline_rows, ids, langs, "nll")
    index = resample_indices(len(ids), resamples, seed)
    tail = (1 - level) / 2 * 100
    rows = []
    for strategy in sorted(strategy_rows):
        quantized = _arrays(strategy_rows[strategy], ids, langs, "nll")
        values = strategy_metrics(baseline, quantized, tokens, n_bytes, groups, reference, noise_floor, index)
        for (scope, metric), series in values.items():
            point, replicates = series[0], series[1:]
            row = {"model": model, "strategy": strategy, "scope": scope, "metric": metric, "note": ""}
            if np.isnan(point):
                # An undefined estimate gets no interval either, whatever the resamples say.
                row["note"] = "undefined: " + _why_undefined(metric, values, reference, noise_floor)
                rows.append(row)
                continue
            row["value"] = float(point)
            undefined = int(np.isnan(replicates).sum())
            if undefined:
                row["note"] = f"CI undefined: the ratio is undefined in {undefined} of {resamples} resamples"
            else:
                low, high = np.percentile(replicates, [tail, 100 - tail])
                row["ci_low"], row["ci_high"] = float(low), float(high)
            rows.append(row)
    return rows
