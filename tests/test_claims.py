"""Seed claims as predicates: parsed strictly, evaluated under the seed and the robust
protocol, flipping when the data flips, and undefined (never a number) when they must be."""

from pathlib import Path

import numpy as np
import pytest
import yaml

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.claims import COLUMNS, claim_rows, protocols
from quant_fairness.stats.correlation import predictor_names
from quant_fairness.stats.paired import paired_scores
from quant_fairness.stats.predicates import load_claims, parse_claim
from quant_fairness.tables import read_tsv, write_tsv

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"high": ["en"], "low": ["he", "ar"]}
SEED_PROTOCOL = {"groups": GROUPS, "segments": 1}


def _claim(predicate, claim_id="c"):
    return parse_claim({"id": claim_id, "source": "001.txt", "sentence": "It is so.", "predicate": predicate})


def _scores(score_rows, losses, n=30, seed=0):
    """Per strategy, per language a mean loss in nats per segment (± 1 nat)."""
    rng = np.random.default_rng(seed)
    base = {lang: rng.normal(200, 20, n) for lang in ("en", "he", "ar")}
    strategies = {
        name: score_rows({lang: base[lang] + rng.normal(loss, 1.0, n) for lang, loss in per_lang.items()})
        for name, per_lang in losses.items()
    }
    return paired_scores(score_rows(base), strategies)


def _check(claims, scores, resamples=400):
    rows = claim_rows(
        claims, {"m": scores}, protocols(GROUPS, SEED_PROTOCOL), "en", {"m": 1e-3}, {}, resamples, 1000, 0
    )
    return {(r["claim"], r["protocol"]): r for r in rows}


@pytest.mark.parametrize(
    "predicate, message",
    [
        ("disparity(a) or disparity(b) < 1", "only `and` joins comparisons"),
        ("disparity(a) == 1", "unsupported comparison Eq"),
        ("disparity(a)", "must be a comparison"),
        ("__import__('os') < 1", "unknown quantity '__import__'"),
        ("disparity(a, b) < 1", "disparity() takes 1 arguments, got 2"),
        ("disparity(a.b) < 1", "arguments are names, got 'a.b'"),
        ("disparity(a) < 'one'", "cannot evaluate \"'one'\""),
        ("disparity(a) <", "predicate is not an expression"),
        ("max() < 1", "max() needs at least one quantity"),
    ],
)
def test_malformed_predicates_are_refused_in_one_line(predicate, message):
    with pytest.raises(QuantFairnessError, match="claim 'c'") as error:
        _claim(predicate)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_malformed_claim_files_are_refused(tmp_path):
    with pytest.raises(QuantFairnessError, match="does not exist"):
        load_claims(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("claims: [unclosed")
    with pytest.raises(QuantFairnessError, match="not valid YAML"):
        load_claims(tmp_path / "bad.yaml")
    entry = {"id": "x", "source": "s", "sentence": "t", "predicate": "disparity(a) < 1"}
    (tmp_path / "twice.yaml").write_text(yaml.safe_dump({"claims": [entry, entry]}))
    with pytest.raises(QuantFairnessError, match="claim id 'x' appears twice"):
        load_claims(tmp_path / "twice.yaml")
    (tmp_path / "keys.yaml").write_text(yaml.safe_dump({"claims": [{"id": "x", "predicate": "disparity(a) < 1"}]}))
    with pytest.raises(QuantFairnessError, match="needs exactly the keys"):
        load_claims(tmp_path / "keys.yaml")


def test_claims_naming_an_undefined_strategy_are_refused(tmp_path):
    entry = {"id": "x", "source": "s", "sentence": "t", "predicate": "disparity(seed_kep5) < 1"}
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({"claims": [entry]}))
    with pytest.raises(QuantFairnessError, match="claim 'x': disparity\\(seed_kep5\\) names strategy 'seed_kep5'"):
        load_claims(tmp_path / "typo.yaml", {"seed_keep5": {}})


@pytest.mark.parametrize(
    "predicate, message",
    [
        ("degradation(q, hb) > 0", "names language 'hb', which is not a language of this run nor a language code"),
        (
            "group_degradation(q, middle) > 0",
            "names group 'middle', which is not defined; expected one of ['all', 'high', 'low']",
        ),
        ("pearson(q, resource_sed) < 0", "names predictor 'resource_sed', which is not defined"),
    ],
)
def test_claims_naming_an_undefined_language_group_or_predictor_are_refused(tmp_path, predicate, message):
    """A typo would otherwise make the claim undefined in every run, without a word."""
    entry = {"id": "x", "source": "s", "sentence": "t", "predicate": predicate}
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump({"claims": [entry]}))
    predictors = predictor_names({"seed": {"en": 1.0}})
    with pytest.raises(QuantFairnessError, match="claim 'x': ") as error:
        load_claims(tmp_path / "typo.yaml", {"q": {}}, ["en", "he", "ar"], predictors)
    assert message in str(error.value)


def test_shipped_claims_name_defined_strategies_languages_and_predictors():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    predictors = predictor_names(config["resource_levels"])
    assert load_claims(ROOT / "config/claims.yaml", config["strategy_specs"], config["languages"], predictors)


def test_shipped_claims_quote_their_seed_note_verbatim_or_cite_a_reference():
    seeds = ROOT.parent / "shared/seeds"
    if not seeds.is_dir():
        pytest.skip(f"the seed notes are not beside this checkout ({seeds})")
    bibliography = (ROOT / "report/references.bib").read_text(encoding="utf-8")
    for claim in load_claims(ROOT / "config/claims.yaml"):
        if (seeds / claim.source).is_file():
            assert claim.sentence in (seeds / claim.source).read_text(encoding="utf-8"), claim.id
        else:  # a paper's claim: a references.bib key, checked under the robust protocol only
            assert f"{{{claim.source}," in bibliography and claim.protocols == ("robust",), claim.id


def test_a_claim_from_the_literature_is_not_checked_under_the_seed_protocol(score_rows):
    claim = parse_claim(
        {
            "id": "paper",
            "source": "someone2026",
            "sentence": "All beats English.",
            "predicate": "group_degradation(q, all) > 0",
            "protocols": ["robust"],
        }
    )
    rows = _check([claim], _scores(score_rows, {"q": {"en": 2.0, "he": 6.0, "ar": 6.0}}))
    assert rows[("paper", "seed")]["verdict"] == "not applicable"
    assert rows[("paper", "robust")]["verdict"] == "holds"  # the mean over every language, "all"


def test_a_claim_flips_when_the_data_flips(score_rows):
    claim = _claim("disparity(protected) < disparity(plain)")
    fair = {"en": 4.0, "he": 4.0, "ar": 4.0}
    unfair = {"en": 2.0, "he": 8.0, "ar": 8.0}
    holds = _check([claim], _scores(score_rows, {"protected": fair, "plain": unfair}))
    flipped = _check([claim], _scores(score_rows, {"protected": unfair, "plain": fair}))
    for protocol in ("seed", "robust"):
        assert holds[("c", protocol)]["verdict"] == "holds"
        assert flipped[("c", protocol)]["verdict"] == "does not hold"
    assert holds[("c", "robust")]["support"] == 1.0
    assert flipped[("c", "robust")]["note"].startswith("contradicted")
    assert "disparity(protected) = " in holds[("c", "robust")]["values"]


def test_a_difference_within_the_noise_of_the_data_is_not_called_a_finding(score_rows):
    claim = _claim("degradation(q, he) > degradation(q, ar)")
    rows = _check([claim], _scores(score_rows, {"q": {"en": 2.0, "he": 6.02, "ar": 6.0}}))
    assert rows[("c", "robust")]["verdict"] == "does not hold"
    assert rows[("c", "robust")]["note"].startswith("not distinguishable")


def test_the_seed_protocol_sees_only_its_first_segment(score_rows):
    claim = _claim("group_degradation(q, low) > group_degradation(q, high)")
    scores = _scores(score_rows, {"q": {"en": 2.0, "he": 6.0, "ar": 6.0}})
    # The first segment happens to hurt English most; the other 29 say the opposite.
    scores.nll["q"]["en"][0] += 25.0
    rows = _check([claim], scores)
    assert rows[("c", "seed")]["verdict"] == "does not hold"
    assert rows[("c", "seed")]["note"] == "point estimate only, as the seeds reported"
    assert rows[("c", "robust")]["verdict"] == "holds"


def test_undefined_quantities_give_undefined_claims_with_no_number(tmp_path, score_rows):
    lossless_en = {"en": 0.0, "he": 5.0, "ar": 5.0}
    scores = _scores(score_rows, {"q": lossless_en})
    scores.nll["q"]["en"][:] = scores.baseline["en"]
    claims = [
        _claim("disparity(q) > 1", "ratio"),
        _claim("disparity(missing) > 1", "strategy"),
        _claim("degradation(q, sw) > 0", "language"),
        _claim("pearson(q, resource_none) < 0", "predictor"),
    ]
    rows = _check(claims, scores)
    assert rows[("ratio", "robust")]["note"].startswith("disparity(q) is undefined")
    assert rows[("strategy", "seed")]["note"] == "strategy missing was not run on this model"
    assert rows[("language", "robust")]["note"] == "language sw is not scored in this run"
    assert rows[("predictor", "robust")]["note"].startswith("predictor resource_none is not defined")
    assert {row["verdict"] for row in rows.values()} == {"undefined"}
    write_tsv(tmp_path / "claims.tsv", list(rows.values()), COLUMNS)
    for row in read_tsv(tmp_path / "claims.tsv"):
        assert (row["support"], row["values"]) == ("NA", "NA")


def test_the_seed_protocol_measures_d_percent_and_the_robust_one_bits_per_byte(score_rows):
    """Hebrew loses more bits per byte, but it has 4x English's tokens per byte, so its
    per-token perplexity (D%) rises less: the two metrics disagree, and so do the protocols."""
    rng = np.random.default_rng(4)
    base = {lang: rng.normal(200, 20, 30) for lang in ("en", "he", "ar")}
    tokens = {"en": 25, "he": 100, "ar": 100}
    loss = {"en": 5.0, "he": 8.0, "ar": 8.0}

    def rows(extra):
        return [row for lang in base for row in score_rows({lang: base[lang] + extra[lang]}, tokens=tokens[lang])]

    scores = paired_scores(rows(dict.fromkeys(base, 0.0)), {"q": rows(loss)})
    verdicts = _check([_claim("degradation(q, he) > degradation(q, en)")], scores)
    assert verdicts[("c", "robust")]["verdict"] == "holds"  # 8 vs 5 nats per 100 bytes
    assert verdicts[("c", "seed")]["verdict"] == "does not hold"  # exp(8/100) − 1 < exp(5/25) − 1


def test_correlation_claims_carry_their_permutation_p(score_rows):
    levels = {"seed": {"en": 1.0, "ar": 0.3, "he": 0.1}}
    scores = _scores(score_rows, {"q": {"en": 1.0, "ar": 4.0, "he": 9.0}})

    def verdicts(predicate):
        return claim_rows(
            [_claim(predicate)], {"m": scores}, protocols(GROUPS, SEED_PROTOCOL), "en", {"m": 1e-3}, levels, 200, 100, 0
        )

    rows = verdicts("pearson(q, resource_seed) < 0 and pearson_p(q, resource_seed) < 0.5")
    assert [row["verdict"] for row in rows] == ["holds", "holds"]
    assert "pearson_p(q, resource_seed) = 0.3333" in rows[1]["values"]  # 2 of the 6 orders of 3 languages
    strict = verdicts("pearson(q, resource_seed) < 0 and pearson_p(q, resource_seed) < 0.05")
    assert [row["verdict"] for row in strict] == ["does not hold"] * 2  # 3 languages cannot reach p < 0.05


def test_a_gap_below_the_noise_floor_is_not_a_finding(score_rows):
    claim = _claim("degradation(q, he) > degradation(q, ar)")
    scores = _scores(score_rows, {"q": {"en": 2.0, "he": 6.0, "ar": 6.0}}, n=200)
    scores.nll["q"]["he"][:] = scores.nll["q"]["ar"] - scores.baseline["ar"] + scores.baseline["he"] + 0.05
    rows = claim_rows([claim], {"m": scores}, protocols(GROUPS, SEED_PROTOCOL), "en", {"m": 0.002}, {}, 200, 100, 0)
    robust = rows[1]
    assert robust["verdict"] == "does not hold"  # he loses 0.05 nats (0.0007 bits/byte) more in every segment
    assert robust["note"].startswith("the gap is below the noise floor (0.002 bits/byte)")


def test_a_ratio_with_a_lossless_denominator_is_undefined_not_infinite(score_rows):
    scores = _scores(score_rows, {"q": {"en": 0.0, "he": 5.0, "ar": 5.0}})
    scores.nll["q"]["en"][:] = scores.baseline["en"]
    rows = _check([_claim("group_degradation(q, low) / degradation(q, en) >= 160")], scores)
    for protocol in ("seed", "robust"):
        assert rows[("c", protocol)]["verdict"] == "undefined"
        assert "denominator is <= 0" in rows[("c", protocol)]["note"]


def test_claim_tables_are_byte_identical_for_identical_inputs(tmp_path, score_rows):
    claims = load_claims(ROOT / "config/claims.yaml")
    for run in range(2):
        scores = _scores(score_rows, {"seed_absmax_int4": {"en": 2.0, "he": 9.0, "ar": 5.0}}, seed=3)
        write_tsv(tmp_path / f"{run}.tsv", list(_check(claims, scores).values()), COLUMNS)
    assert (tmp_path / "0.tsv").read_bytes() == (tmp_path / "1.tsv").read_bytes()


def test_a_ratio_in_a_predicate_is_shown_with_its_interval(score_rows):
    scores = _scores(score_rows, {"q": {"en": 2.0, "he": 8.0, "ar": 8.0}})
    rows = _check([_claim("group_degradation(q, low) / degradation(q, en) >= 2")], scores)
    robust = rows[("c", "robust")]
    assert robust["verdict"] == "holds"
    ratio_text = next(part for part in robust["values"].split("; ") if part.startswith("group_degradation(q, low) /"))
    value = float(ratio_text.split(" = ")[1].split(" [")[0])
    assert value == pytest.approx(4.0, rel=0.1) and "[" in ratio_text


def test_a_difference_of_losses_compared_with_a_number_must_clear_the_noise_floor(score_rows):
    """`a - b > 0` is the same claim as `a > b`: the gap in bits/byte must exceed the floor."""
    scores = _scores(score_rows, {"q": {"en": 2.0, "he": 6.0, "ar": 6.0}}, n=200)
    scores.nll["q"]["he"][:] = scores.nll["q"]["ar"] - scores.baseline["ar"] + scores.baseline["he"] + 0.05
    for predicate in ("degradation(q, he) - degradation(q, ar) > 0", "0 < degradation(q, he) - degradation(q, ar)"):
        rows = claim_rows(
            [_claim(predicate)], {"m": scores}, protocols(GROUPS, SEED_PROTOCOL), "en", {"m": 0.002}, {}, 200, 100, 0
        )
        assert rows[1]["verdict"] == "does not hold", predicate
        assert rows[1]["note"].startswith("the gap is below the noise floor (0.002 bits/byte)")


def test_a_claim_on_a_p_value_alone_is_judged_by_the_p_value_not_by_copied_resamples(score_rows):
    levels = {"seed": {"en": 1.0, "ar": 0.3, "he": 0.1}}
    scores = _scores(score_rows, {"q": {"en": 1.0, "ar": 4.0, "he": 9.0}})
    rows = claim_rows(
        [_claim("pearson_p(q, resource_seed) < 0.5")],
        {"m": scores},
        protocols(GROUPS, SEED_PROTOCOL),
        "en",
        {"m": 1e-3},
        levels,
        200,
        100,
        0,
    )
    robust = rows[1]
    assert robust["verdict"] == "holds" and "support" not in robust  # no 0-or-1 "support" from copies
    assert robust["note"] == "judged by the permutation p-value itself (not resampled)"


def test_a_quantity_undefined_in_some_resamples_shows_that_its_interval_is_undefined(score_rows):
    """English loses 0.1 nats per segment on average, alternating ±1: its ΔBPB is above the floor
    in the data and below it in many resamples, where the disparity is undefined."""
    scores = _scores(score_rows, {"q": {"en": 0.0, "he": 5.0, "ar": 5.0}})
    scores.nll["q"]["en"][:] = scores.baseline["en"] + 0.1 + np.where(np.arange(30) % 2, 1.0, -1.0)
    rows = _check([_claim("disparity(q) > 1")], scores)
    assert "disparity(q) = " in rows[("c", "robust")]["values"]
    assert "(CI undefined)" in rows[("c", "robust")]["values"]
