"""The metric contract of DESIGN.md, and disparity tables that never report an undefined
ratio as a number."""

import math

import numpy as np
import pytest

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.disparity import disparity_rows
from quant_fairness.stats.metrics import bpb, degradation_pct, ppl, ratio
from quant_fairness.stats.paired import paired_scores


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


@pytest.fixture
def table(score_rows):
    def build(base, quant):
        scores = paired_scores(score_rows(base, tokens=10, n_bytes=20), {"s": score_rows(quant, tokens=10, n_bytes=20)})
        rows = disparity_rows(
            "m",
            scores,
            groups={"high": ["en"], "low": ["he"]},
            reference="en",
            noise_floor=0.001,
            resamples=200,
            seed=0,
        )
        return {(r["scope"], r["metric"]): r for r in rows}

    return build


def test_disparity_is_the_ratio_of_group_losses(table):
    rng = np.random.default_rng(0)
    base = {"en": list(rng.uniform(20, 30, 40)), "he": list(rng.uniform(40, 60, 40))}
    quant = {"en": [x + 1.0 for x in base["en"]], "he": [x + 3.0 for x in base["he"]]}
    rows = table(base, quant)
    expected_delta = {"en": 1.0 / (20 * math.log(2)), "he": 3.0 / (20 * math.log(2))}
    assert rows[("en", "delta_bpb")]["value"] == pytest.approx(expected_delta["en"])
    assert rows[("disparity", "robust_disparity")]["value"] == pytest.approx(3.0)
    row = rows[("disparity", "robust_disparity")]
    assert row["ci_low"] <= row["value"] <= row["ci_high"]


def test_a_reference_without_loss_makes_ratios_undefined_not_numbers(table):
    base = {"en": [20.0] * 30, "he": [40.0] * 30}
    quant = {"en": [20.0] * 30, "he": [44.0] * 30}
    rows = table(base, quant)
    for key in [("disparity", "robust_disparity"), ("disparity", "seed_disparity"), ("he", "delta_bpb_ratio_vs_en")]:
        assert "value" not in rows[key], key
        assert rows[key]["note"].startswith("undefined:"), rows[key]["note"]
    assert rows[("he", "delta_bpb")]["value"] > 0


def test_same_inputs_give_identical_rows(table):
    rng = np.random.default_rng(1)
    base = {"en": list(rng.uniform(20, 30, 25)), "he": list(rng.uniform(40, 60, 25))}
    quant = {lang: [x + rng.uniform(0, 2) for x in values] for lang, values in base.items()}
    assert table(base, quant) == table(base, quant)


def test_unpaired_tables_are_refused(score_rows):
    base = score_rows({"en": [1.0, 2.0], "he": [1.0, 2.0]})
    quant = score_rows({"en": [1.0], "he": [1.0]})
    with pytest.raises(QuantFairnessError, match="not paired: s has no segment"):
        paired_scores(base, {"s": quant})


def test_an_empty_baseline_is_refused():
    with pytest.raises(QuantFairnessError, match="baseline score table is empty"):
        paired_scores([], {})
