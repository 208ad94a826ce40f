"""The metric contract of DESIGN.md, and disparity tables that never report an undefined
ratio as a number."""

import math

import numpy as np
import pytest

from quant_fairness.disparity import disparity_rows
from quant_fairness.errors import QuantFairnessError
from quant_fairness.metrics import bpb, degradation_pct, ppl, ratio


def test_formulas_match_the_design_contract():
    assert ppl(20.0, 10) == pytest.approx(math.exp(2.0))
    assert bpb(20.0, 10) == pytest.approx(20.0 / (10 * math.log(2)))
    assert degradation_pct(150.0, 100.0) == pytest.approx(50.0)


def test_ratio_is_undefined_below_the_floor_or_at_zero():
    assert ratio(1.0, 0.5) == pytest.approx(2.0)
    assert np.isnan(ratio(1.0, 0.0))
    assert np.isnan(ratio(1.0, -0.2))
    assert np.isnan(ratio(1.0, 0.0005, floor=0.001))
    assert np.isnan(ratio(50.0, 10.0, floor=0.001, effect=0.0001))


def _scores(nll_by_lang, ids, tokens=10, n_bytes=20):
    return [
        {"lang": lang, "id": i, "tokens": tokens, "bytes": n_bytes, "nll": nll}
        for lang, values in nll_by_lang.items()
        for i, nll in zip(ids, values, strict=True)
    ]


def _table(base, quant, **kwargs):
    ids = [f"{i:03d}" for i in range(len(base["en"]))]
    rows = disparity_rows(
        "m",
        _scores(base, ids),
        {"s": _scores(quant, ids)},
        groups={"high": ["en"], "low": ["he"]},
        reference="en",
        noise_floor=0.001,
        resamples=200,
        seed=0,
        **kwargs,
    )
    return {(r["scope"], r["metric"]): r for r in rows}


def test_disparity_is_the_ratio_of_group_losses():
    rng = np.random.default_rng(0)
    base = {"en": list(rng.uniform(20, 30, 40)), "he": list(rng.uniform(40, 60, 40))}
    quant = {"en": [x + 1.0 for x in base["en"]], "he": [x + 3.0 for x in base["he"]]}
    table = _table(base, quant)
    expected_delta = {"en": 1.0 / (20 * math.log(2)), "he": 3.0 / (20 * math.log(2))}
    assert table[("en", "delta_bpb")]["value"] == pytest.approx(expected_delta["en"])
    assert table[("disparity", "robust_disparity")]["value"] == pytest.approx(3.0)
    row = table[("disparity", "robust_disparity")]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_a_reference_without_loss_makes_ratios_undefined_not_numbers():
    base = {"en": [20.0] * 30, "he": [40.0] * 30}
    quant = {"en": [20.0] * 30, "he": [44.0] * 30}
    table = _table(base, quant)
    for key in [("disparity", "robust_disparity"), ("disparity", "seed_disparity"), ("he", "delta_bpb_ratio_vs_en")]:
        assert "value" not in table[key], key
        assert table[key]["note"].startswith("undefined:"), table[key]["note"]
    assert table[("he", "delta_bpb")]["value"] > 0


def test_same_inputs_give_identical_rows():
    rng = np.random.default_rng(1)
    base = {"en": list(rng.uniform(20, 30, 25)), "he": list(rng.uniform(40, 60, 25))}
    quant = {lang: [x + rng.uniform(0, 2) for x in values] for lang, values in base.items()}
    assert _table(base, quant) == _table(base, quant)


def test_bootstrap_interval_covers_the_true_effect_at_about_the_nominal_rate():
    rng = np.random.default_rng(2)
    covered = 0
    trials = 60
    for _ in range(trials):
        base = {"en": list(rng.uniform(20, 30, 40)), "he": list(rng.uniform(20, 30, 40))}
        quant = {lang: [x + rng.normal(2.0, 1.0) for x in values] for lang, values in base.items()}
        row = _table(base, quant)[("en", "delta_bpb")]
        truth = 2.0 / (20 * math.log(2))
        covered += row["ci_low"] <= truth <= row["ci_high"]
    assert 0.8 <= covered / trials <= 1.0


def test_unpaired_tables_are_refused():
    ids = ["a", "b"]
    base = _scores({"en": [1.0, 2.0], "he": [1.0, 2.0]}, ids)
    quant = _scores({"en": [1.0, 2.0], "he": [1.0, 2.0]}, ["a", "c"])
    with pytest.raises(QuantFairnessError, match="not paired"):
        disparity_rows("m", base, {"s": quant}, {"high": ["en"], "low": ["he"]}, "en", 0.001, 10, 0)
