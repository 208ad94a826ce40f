"""The regression of per-language degradation on the language predictors together."""

import numpy as np
import pytest

from quant_fairness.stats.bootstrap import resample_indices
from quant_fairness.stats.correlation import degradation_values
from quant_fairness.stats.paired import paired_scores
from quant_fairness.stats.regression import (
    MIN_LANGUAGES,
    PREDICTORS,
    design_columns,
    regression_rows,
    standardised_fit,
)

LANGS = [f"l{k:02d}" for k in range(20)]


def _rows(nll_by_lang, tokens_by_lang, strategy):
    return [
        {"model": "m", "strategy": strategy, "lang": lang, "id": f"{i:03d}", "tokens": tokens_by_lang[lang],
         "bytes": 100, "nll": nll}
        for lang, values in nll_by_lang.items()
        for i, nll in enumerate(values)
    ]  # fmt: skip


@pytest.fixture
def tokenizer_driven():
    """Twenty languages whose quantization loss grows with tokens per byte alone; speakers and
    script drawn independently of it."""
    rng = np.random.default_rng(3)
    tokens = {lang: int(rng.integers(20, 80)) for lang in LANGS}
    base = {lang: rng.normal(150, 15, 40) for lang in LANGS}
    quantized = {lang: base[lang] + 0.3 * tokens[lang] + rng.normal(0, 1.0, 40) for lang in LANGS}
    table = [
        {"lang": lang, "script": "Latn" if k % 3 == 0 else "Cyrl", "log10_speakers": f"{rng.uniform(5, 9):.4f}"}
        for k, lang in enumerate(LANGS)
    ]
    scores = paired_scores(_rows(base, tokens, "baseline"), {"int4": _rows(quantized, tokens, "int4")})
    return scores, table


def test_the_predictor_that_drives_the_loss_carries_the_coefficient(tokenizer_driven):
    scores, table = tokenizer_driven
    rows = {r["predictor"]: r for r in regression_rows("m", scores, table, resamples=200, seed=0)}
    assert set(rows) == set(PREDICTORS)
    driver = rows["tokens_per_byte"]
    assert driver["coefficient"] > 0 and driver["language_ci_low"] > 0 and driver["ci_low"] > 0
    assert driver["r_squared"] > 0.9 and driver["languages"] == len(LANGS) and driver["note"] == ""
    for name in ("log10_speakers", "latin_script", "baseline_bpb"):
        row = rows[name]
        assert row["language_ci_low"] < row["coefficient"] < row["language_ci_high"]
        assert abs(row["coefficient"]) < driver["coefficient"] / 5


def test_the_fit_is_the_same_run_after_run(tokenizer_driven):
    scores, table = tokenizer_driven
    assert regression_rows("m", scores, table, 50, 0) == regression_rows("m", scores, table, 50, 0)


def test_a_language_without_a_speaker_count_is_left_out_of_the_fit(tokenizer_driven):
    scores, table = tokenizer_driven
    table[7]["log10_speakers"] = "NA"
    rows = {r["predictor"]: r for r in regression_rows("m", scores, table, 20, 0)}
    kept = [lang for lang in LANGS if lang != "l07"]
    index = resample_indices(len(scores.ids), 20, 0)[:1]
    covered, columns, design = design_columns(scores, index, table)
    assert covered == kept and columns == [LANGS.index(lang) for lang in kept]
    # The fit on the other 19, from their own per-language ΔBPB and predictors.
    outcome = degradation_values(scores, "int4", index)["delta_bpb"][0, columns]
    slopes, r_squared = standardised_fit(design[0], outcome)
    assert [rows[name]["coefficient"] for name in PREDICTORS] == pytest.approx(list(slopes))
    assert (
        rows["tokens_per_byte"]["languages"] == 19
        and "no speaker count for l07: left out" in rows["latin_script"]["note"]
    )
    assert rows["baseline_bpb"]["r_squared"] == pytest.approx(r_squared)


def test_too_few_languages_or_a_constant_script_leave_it_undefined(tokenizer_driven):
    scores, table = tokenizer_driven
    for row in table[MIN_LANGUAGES - 1 :]:
        row["log10_speakers"] = "NA"
    few = regression_rows("m", scores, table, 20, 0)
    assert all("coefficient" not in r for r in few)
    assert few[0]["note"].startswith(f"undefined: {MIN_LANGUAGES - 1} languages, at least {MIN_LANGUAGES} needed")
    assert "no speaker count for l14" in few[0]["note"]
    one_script = [{**row, "script": "Arab", "log10_speakers": "7"} for row in table]
    constant = regression_rows("m", scores, one_script, 20, 0)
    assert all("coefficient" not in r and "a predictor is constant" in r["note"] for r in constant)


def test_a_language_interval_of_mostly_degenerate_resamples_is_left_undefined(tokenizer_driven):
    # One Latin language in twenty: about a third of the language resamples miss it entirely.
    scores, table = tokenizer_driven
    lone_latin = [{**row, "script": "Latn" if k == 0 else "Cyrl"} for k, row in enumerate(table)]
    rows = regression_rows("m", scores, lone_latin, 200, 0)
    assert all("language_ci_low" not in r and "language CI undefined" in r["note"] for r in rows)
    assert all("ci_low" in r for r in rows)  # the segment resamples keep every language
