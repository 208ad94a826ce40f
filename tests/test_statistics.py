"""Bootstrap intervals, paired strategy comparisons and the noise floor, on synthetic
per-segment scores whose true effects are known."""

import math

import numpy as np
import pytest

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.bootstrap import percentile_interval, resample_indices
from quant_fairness.stats.comparison import COMPARISON_COLUMNS, RANKING_COLUMNS, compare_strategies
from quant_fairness.stats.disparity import ALL_LANGUAGES, COLUMNS, disparity_rows, strategy_metrics
from quant_fairness.stats.noise_floor import COLUMNS as NOISE_COLUMNS
from quant_fairness.stats.noise_floor import LARGEST, noise_floor_rows, read_noise_floor
from quant_fairness.stats.paired import paired_scores
from quant_fairness.tables import write_tsv

GROUPS = {"high": ["en"], "low": ["he"]}
BYTES = 100  # per segment, so ΔBPB is exactly mean(ΔNLL) / (BYTES · ln 2)


def _dataset(rng, score_rows, effects, n=40):
    """Baseline NLL per segment, and per strategy a per-segment loss ~ N(mean, 4 nats) per language."""
    base = {lang: rng.normal(200, 30, n) for lang in ("en", "he")}
    strategies = {
        name: score_rows({lang: base[lang] + rng.normal(mean, 4.0, n) for lang, mean in means.items()}, strategy=name)
        for name, means in effects.items()
    }
    return paired_scores(score_rows(base), strategies)


def _as_bpb(nats):
    return nats / (BYTES * math.log(2))


def test_delta_bpb_interval_covers_the_true_effect_at_about_the_nominal_rate(score_rows):
    rng = np.random.default_rng(0)
    trials, covered = 200, 0
    for trial in range(trials):
        scores = _dataset(rng, score_rows, {"q": {"en": 2.0, "he": 6.0}})
        rows = disparity_rows("m", scores, GROUPS, "en", 1e-3, resamples=200, seed=trial)
        row = next(r for r in rows if (r["scope"], r["metric"]) == ("he", "delta_bpb"))
        covered += row["ci_low"] <= _as_bpb(6.0) <= row["ci_high"]
    # 95% nominal; the percentile bootstrap runs a little narrow at n = 40 (Monte Carlo SE 1.5%).
    assert 0.88 <= covered / trials <= 0.99


def test_paired_difference_interval_covers_the_true_difference(score_rows):
    rng = np.random.default_rng(1)
    trials, covered, distinguishable = 200, 0, 0
    truth = _as_bpb(3.0)  # mean over en and he of (5 − 2) and (7 − 4) nats
    for trial in range(trials):
        scores = _dataset(rng, score_rows, {"a": {"en": 5.0, "he": 7.0}, "b": {"en": 2.0, "he": 4.0}})
        comparisons, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=200, seed=trial)
        row = next(r for r in comparisons if r["metric"] == "mean_delta_bpb")
        assert (row["strategy"], row["versus"]) == ("a", "b")
        covered += row["ci_low"] <= truth <= row["ci_high"]
        distinguishable += row["distinguishable"] == "yes"
    assert 0.88 <= covered / trials <= 0.99
    # The pairing removes the segment-to-segment spread of the baseline (30 nats): a 3-nat
    # difference is 4.7 paired standard errors, but under one unpaired standard error.
    assert distinguishable / trials > 0.9


def test_pairing_strategies_on_the_same_resamples_narrows_the_difference(score_rows):
    """A hard verse is hard for every strategy and in every language (the corpus is parallel):
    resampling both strategies with the same segment ids cancels that shared term."""
    rng = np.random.default_rng(6)
    n = 40
    difficulty = rng.gamma(2.0, 4.0, n)  # extra loss on a segment under any quantizer
    base = {lang: rng.normal(200, 30, n) for lang in ("en", "he")}
    strategies = {
        name: score_rows({lang: base[lang] + scale * difficulty + rng.normal(0, 0.5, n) for lang in base})
        for name, scale in (("a", 1.2), ("b", 1.0))
    }
    scores = paired_scores(score_rows(base), strategies)
    comparisons, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=500, seed=0)
    paired = next(r for r in comparisons if r["metric"] == "mean_delta_bpb")
    key = (ALL_LANGUAGES, "mean_delta_bpb")
    unpaired = (
        strategy_metrics(scores, "a", GROUPS, "en", 1e-3, resample_indices(n, 500, 1))[key]
        - strategy_metrics(scores, "b", GROUPS, "en", 1e-3, resample_indices(n, 500, 2))[key]
    )
    low, high = percentile_interval(unpaired[1:], 0.95)
    assert paired["ci_high"] - paired["ci_low"] < 0.4 * (high - low)
    assert paired["distinguishable"] == "yes" and low < 0 < high


def test_ranking_marks_only_differences_the_data_cannot_resolve(score_rows):
    rng = np.random.default_rng(2)
    scores = _dataset(
        rng,
        score_rows,
        {"fair": {"en": 5.0, "he": 5.0}, "fair_too": {"en": 5.0, "he": 5.05}, "unfair": {"en": 3.0, "he": 12.0}},
        n=60,
    )
    comparisons, ranking = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=500, seed=0)
    by_strategy = {r["strategy"]: r for r in ranking if r["metric"] == "robust_disparity"}
    assert by_strategy["unfair"]["rank"] == 3
    assert by_strategy["unfair"]["indistinguishable_from"] == ""
    assert by_strategy["fair"]["indistinguishable_from"] == "fair_too"
    assert {r["distinguishable"] for r in comparisons if "unfair" in (r["strategy"], r["versus"])} == {"yes"}
    assert set(ranking[0]) <= set(RANKING_COLUMNS) and set(comparisons[0]) <= set(COMPARISON_COLUMNS)


def test_an_undefined_disparity_is_not_ranked_nor_compared_as_a_number(score_rows):
    rng = np.random.default_rng(3)
    # `lossless_en` loses nothing in the high group: its robust disparity has no denominator.
    scores = _dataset(rng, score_rows, {"lossy": {"en": 2.0, "he": 6.0}, "lossless_en": {"en": 0.0, "he": 6.0}})
    base = scores.baseline["en"]
    scores.nll["lossless_en"]["en"][:] = base
    comparisons, ranking = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=100, seed=0)
    pair = next(r for r in comparisons if r["metric"] == "robust_disparity")
    assert "difference" not in pair and "ci_low" not in pair and pair["note"].startswith("undefined")
    last = next(r for r in ranking if r["metric"] == "robust_disparity" and r["strategy"] == "lossless_en")
    assert "rank" not in last and "value" not in last and last["note"] == "undefined: not ranked"


def test_effects_below_the_noise_floor_are_flagged(score_rows):
    base = {lang: np.random.default_rng(4).normal(200, 30, 30) for lang in ("en", "he")}
    int8 = {"en": base["en"] + 0.05, "he": base["he"] + 0.6}  # 0.0007 and 0.0087 bits/byte
    scores = paired_scores(score_rows(base), {"int8": score_rows(int8)})
    rows = {(r["scope"], r["metric"]): r for r in disparity_rows("m", scores, GROUPS, "en", 0.002, 100, 0)}
    assert rows[("en", "delta_bpb")]["value"] == pytest.approx(_as_bpb(0.05))
    assert rows[("en", "delta_bpb")]["note"].startswith("below the noise floor")
    assert rows[("en", "degradation_pct")]["note"].startswith("below the noise floor")
    assert rows[("he", "delta_bpb")]["note"] == ""
    assert "value" not in rows[("disparity", "robust_disparity")]


def test_noise_floor_is_the_upper_end_of_the_largest_shifts_interval(tmp_path, score_rows):
    fp32 = {"en": [100.0, 120.0], "he": [200.0, 180.0]}
    bf16 = {"en": [100.5, 120.0], "he": [198.0, 180.0]}
    rows = noise_floor_rows("m", score_rows(fp32), score_rows(bf16), "float32", "bfloat16", 400, 0)
    shifts = {r["scope"]: r["value"] for r in rows if r["metric"] == "bpb_shift"}
    assert shifts == pytest.approx({"en": _as_bpb(0.5) / 2, "he": _as_bpb(-2.0) / 2})
    largest = next(r for r in rows if (r["scope"], r["metric"]) == LARGEST)
    # A quarter of the resamples draw the first segment twice: he then shifts by 2 nats per segment.
    assert largest["value"] == pytest.approx(_as_bpb(2.0) / 2) and largest["ci_high"] == pytest.approx(_as_bpb(2.0))
    write_tsv(tmp_path / "floor.tsv", rows, NOISE_COLUMNS)
    assert read_noise_floor(tmp_path / "floor.tsv") == pytest.approx(largest["ci_high"])
    # Rescoring only the first segment compares the two dtypes on that segment alone.
    first = noise_floor_rows(
        "m", score_rows(fp32), score_rows({"en": [100.5], "he": [198.0]}), "float32", "bfloat16", 400, 0
    )
    assert first[-1]["value"] == pytest.approx(_as_bpb(2.0))
    (tmp_path / "broken.tsv").write_text("model\tscope\tmetric\tvalue\n")
    with pytest.raises(QuantFairnessError, match="no floor/noise_floor_bpb row"):
        read_noise_floor(tmp_path / "broken.tsv")


def test_many_pairs_are_judged_family_wise_so_chance_differences_are_not_called_real(score_rows):
    """Eight strategies with the same true effect make 28 pairs. At 95% each, most datasets hold
    a pair whose interval excludes zero by chance; with the family-wise intervals (bootstrap max-t)
    about 5% of datasets do (a little more at n = 40, where the bootstrap runs narrow)."""
    trials, per_pair, family_wise = 100, 0, 0
    for trial in range(trials):
        same = {f"s{k}": {"en": 2.0, "he": 6.0} for k in range(8)}
        scores = _dataset(np.random.default_rng(1000 + trial), score_rows, same)
        comparisons, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=400, seed=trial)
        rows = [r for r in comparisons if r["metric"] == "mean_delta_bpb"]
        assert len(rows) == 28 and all(r["family_size"] == 28 for r in rows)
        assert all(r["family_low"] <= r["ci_low"] and r["family_high"] >= r["ci_high"] for r in rows)
        per_pair += any(r["ci_low"] > 0 or r["ci_high"] < 0 for r in rows)
        family_wise += any(r["distinguishable"] == "yes" for r in rows)
    assert per_pair / trials > 0.4  # measured 0.67
    assert family_wise / trials < 0.15  # measured 0.09 (Monte Carlo SE 0.03)


def test_a_real_difference_survives_the_family_wise_control(score_rows):
    same = {f"s{k}": {"en": 2.0, "he": 6.0} for k in range(8)}
    scores = _dataset(np.random.default_rng(1), score_rows, {**same, "worse": {"en": 2.0, "he": 14.0}})
    comparisons, ranking = compare_strategies("m", scores, GROUPS, "en", 1e-3, resamples=400, seed=0)
    rows = [r for r in comparisons if r["metric"] == "mean_delta_bpb" and "worse" in (r["strategy"], r["versus"])]
    assert len(rows) == 8 and all(r["distinguishable"] == "yes" for r in rows)
    worst = next(r for r in ranking if r["metric"] == "mean_delta_bpb" and r["strategy"] == "worse")
    assert worst["indistinguishable_from"] == ""


def test_a_comparison_pair_is_subtracted_in_the_order_given(score_rows):
    """The sign of a paired difference is the caller's choice, never the names' string order."""
    scores = _dataset(np.random.default_rng(2), score_rows, {"a": {"en": 5.0, "he": 7.0}, "b": {"en": 2.0, "he": 4.0}})
    default, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, 100, 0)
    given, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, 100, 0, pairs=[("b", "a")])
    for metric in ("mean_delta_bpb", "robust_disparity"):
        ab = next(r for r in default if r["metric"] == metric)
        ba = next(r for r in given if r["metric"] == metric)
        assert (ba["strategy"], ba["versus"]) == ("b", "a") and ba["difference"] == pytest.approx(-ab["difference"])


def test_percentile_interval_is_none_when_any_resample_is_undefined():
    assert percentile_interval([1.0, 2.0, 3.0], 0.95) is not None
    assert percentile_interval([1.0, np.nan, 3.0], 0.95) is None


def test_statistics_on_identical_inputs_are_byte_identical(tmp_path, score_rows):
    outputs = []
    for run in range(2):
        scores = _dataset(
            np.random.default_rng(5), score_rows, {"a": {"en": 2.0, "he": 5.0}, "b": {"en": 1.0, "he": 2.0}}
        )
        comparisons, _ = compare_strategies("m", scores, GROUPS, "en", 1e-3, 300, 0)
        write_tsv(tmp_path / f"d{run}.tsv", disparity_rows("m", scores, GROUPS, "en", 1e-3, 300, 0), COLUMNS)
        write_tsv(tmp_path / f"c{run}.tsv", comparisons, COMPARISON_COLUMNS)
        outputs.append(((tmp_path / f"d{run}.tsv").read_bytes(), (tmp_path / f"c{run}.tsv").read_bytes()))
    assert outputs[0] == outputs[1]
