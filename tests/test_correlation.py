"""Correlation of degradation with resource predictors: coefficients, exact and Monte Carlo
permutation p-values, bootstrap intervals, and undefined cases that stay undefined."""

import numpy as np
import pytest

from quant_fairness.stats.correlation import (
    average_ranks,
    coefficient,
    correlation_rows,
    permutation_p,
    predictor_names,
    resource_scales,
)

LANGS = ["ar", "de", "en", "fr", "he", "hi", "sw", "zh"]


def test_average_ranks_share_ties():
    assert average_ranks([10.0, 20.0, 20.0, 5.0]).tolist() == [2.0, 3.5, 3.5, 1.0]


def test_spearman_sees_a_monotone_curve_that_pearson_does_not():
    x = np.arange(1.0, 9.0)
    y = np.exp(x)
    assert coefficient(x, y, "spearman") == pytest.approx(1.0)
    assert coefficient(x, y, "pearson") < 0.9
    assert np.isnan(coefficient(x, np.ones(8), "pearson"))


def test_exact_permutation_p_counts_every_order():
    # Of the 24 orders of 4 languages only the identity and its reverse reach |r| = 1.
    assert permutation_p([1.0, 2.0, 3.0, 4.0], [1.0, 2.0, 3.0, 4.0], "pearson", 100, 0) == pytest.approx(2 / 24)
    # With fewer permutations allowed than orders, it samples them and never returns 0.
    p = permutation_p(np.arange(10.0), np.arange(10.0), "pearson", 999, 0)
    assert p == pytest.approx(1 / 1000, abs=2e-3)


def test_permutation_p_is_about_uniform_without_an_effect():
    rng = np.random.default_rng(0)
    p_values = [permutation_p(rng.normal(size=7), rng.normal(size=7), "spearman", 5040, 0) for _ in range(300)]
    assert 0.02 <= np.mean(np.array(p_values) < 0.05) <= 0.09
    assert 0.4 <= np.median(p_values) <= 0.6


@pytest.fixture
def resource_scores(score_rows):
    """Eight languages whose quantization loss falls with a known resource level."""
    from quant_fairness.stats.paired import paired_scores

    rng = np.random.default_rng(1)
    levels = dict(zip(LANGS, [0.6, 0.9, 1.0, 0.8, 0.2, 0.4, 0.1, 0.5], strict=True))
    base = {lang: rng.normal(200, 20, 30) for lang in LANGS}
    quantized = {lang: base[lang] + rng.normal(10 * (1.5 - levels[lang]), 2.0, 30) for lang in LANGS}
    return paired_scores(score_rows(base), {"int4": score_rows(quantized)}), levels


def test_degradation_falling_with_resources_gives_a_negative_significant_r(resource_scores):
    scores, levels = resource_scores
    rows = correlation_rows("m", scores, {"known": levels, "sparse": {"en": 1, "he": 0}}, 1e-3, 300, 50000, 0)
    by_key = {(r["metric"], r["predictor"], r["method"]): r for r in rows}
    pearson = by_key[("delta_bpb", "resource_known", "pearson")]
    assert pearson["value"] < -0.9 and pearson["ci_low"] <= pearson["value"] <= pearson["ci_high"] < 0
    assert pearson["p_value"] < 0.01 and pearson["languages"] == ",".join(LANGS)
    sparse = by_key[("delta_bpb", "resource_sparse", "spearman")]
    assert "value" not in sparse and "p_value" not in sparse and sparse["note"].startswith("undefined: 2 languages")
    assert {r["predictor"] for r in rows} == {"baseline_bpb", "tokens_per_byte", "resource_known", "resource_sparse"}
    # Every token is 4 bytes in this data, so tokens per byte cannot explain anything.
    flat = by_key[("delta_bpb", "tokens_per_byte", "pearson")]
    assert "value" not in flat and flat["note"].startswith("undefined: the predictor or the degradation")


def test_the_speaker_scale_of_the_language_table_is_a_built_in_predictor(resource_scores):
    scores, levels = resource_scores
    table = [{"lang": lang, "log10_speakers": f"{6 + 3 * level:.4f}"} for lang, level in levels.items()]
    table[0]["log10_speakers"] = "NA"  # a language without a count is left out of the scale, not zero
    scales = resource_scales({"known": levels}, table)
    assert set(scales) == {"known", "log10_speakers"} and LANGS[0] not in scales["log10_speakers"]
    assert predictor_names({"known": levels}) == [
        "baseline_bpb", "tokens_per_byte", "resource_known", "resource_log10_speakers"
    ]  # fmt: skip
    rows = correlation_rows("m", scores, scales, 1e-3, 100, 1000, 0)
    speakers = {
        r["method"]: r for r in rows if r["metric"] == "delta_bpb" and r["predictor"] == "resource_log10_speakers"
    }
    assert speakers["pearson"]["value"] < -0.9 and speakers["pearson"]["languages"] == ",".join(LANGS[1:])
