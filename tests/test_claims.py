"""Seed claims as predicates: parsed strictly, evaluated under the seed and the robust
protocol, flipping when the data flips, and undefined (never a number) when they must be."""

import ast
from pathlib import Path

import numpy as np
import pytest
import yaml

from quant_fairness.claims import COLUMNS, claim_rows, load_claims, parse_claim, protocols
from quant_fairness.errors import QuantFairnessError
from quant_fairness.paired import paired_scores
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


def test_shipped_claims_name_only_defined_strategies():
    specs = {**yaml.safe_load((ROOT / "config.yaml").read_text())["strategy_specs"]}
    specs.update(yaml.safe_load((ROOT / "config/full.yaml").read_text())["strategy_specs"])
    claims = load_claims(ROOT / "config/claims.yaml")
    seeds = {path.name for path in (ROOT.parent / "shared/seeds").glob("*.txt")}
    for claim in claims:
        calls = [node for node in ast.walk(claim.tree) if isinstance(node, ast.Call) and node.args]
        for call in calls:
            if call.func.id not in ("max", "min"):
                assert call.args[0].id in specs, (claim.id, call.args[0].id)
        if seeds:  # the seed notes sit beside the checkout
            assert claim.source in seeds, claim.source


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


def test_correlation_claims_use_the_protocols_degradation(score_rows):
    levels = {"en": 1.0, "ar": 0.3, "he": 0.1}
    claim = _claim("pearson(q, resource_seed) < 0 and pearson_p(q, resource_seed) <= 1")
    scores = _scores(score_rows, {"q": {"en": 1.0, "ar": 4.0, "he": 9.0}})
    rows = claim_rows(
        [claim], {"m": scores}, protocols(GROUPS, SEED_PROTOCOL), "en", {"m": 1e-3}, {"seed": levels}, 200, 100, 0
    )
    assert [row["verdict"] for row in rows] == ["holds", "holds"]
    assert "pearson_p(q, resource_seed) = 0.333" in rows[1]["values"]  # 2 of the 6 orders of 3 languages


def test_claim_tables_are_byte_identical_for_identical_inputs(tmp_path, score_rows):
    claims = load_claims(ROOT / "config/claims.yaml")
    for run in range(2):
        scores = _scores(score_rows, {"seed_absmax_int4": {"en": 2.0, "he": 9.0, "ar": 5.0}}, seed=3)
        write_tsv(tmp_path / f"{run}.tsv", list(_check(claims, scores).values()), COLUMNS)
    assert (tmp_path / "0.tsv").read_bytes() == (tmp_path / "1.tsv").read_bytes()
