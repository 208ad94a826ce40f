"""The `quant-fairness` command, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*args, cwd=ROOT):
    command = [sys.executable, "-m", "quant_fairness.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=cwd)


def _split(tmp_path):
    path = tmp_path / "test.jsonl"
    rows = [{"id": "1", "lang": "en", "text": "the earth"}, {"id": "1", "lang": "ar", "text": "الأرض"}]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def test_score_prints_json_per_language(tiny_model_dir, tmp_path):
    result = _run(
        "score",
        "--model",
        str(tiny_model_dir),
        "--split",
        str(_split(tmp_path)),
        "--strategy",
        "rtn_int8_channel",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["languages"]) == {"en", "ar"}
    assert report["languages"]["ar"]["bytes"] == len("الأرض".encode())
    assert 8 < report["bits_per_weight"] < 16


def test_unknown_strategy_and_language_fail_in_one_line(tiny_model_dir, tmp_path):
    split = str(_split(tmp_path))
    result = _run("score", "--model", str(tiny_model_dir), "--split", split, "--strategy", "nf17")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "strategy 'nf17' is not defined" in result.stderr
    result = _run("score", "--model", str(tiny_model_dir), "--split", split, "--langs", "en,xx")
    assert result.returncode == 2
    assert "language 'xx'" in result.stderr


def test_calibrated_strategy_needs_and_uses_calibration_text(tiny_model_dir, tmp_path):
    split = str(_split(tmp_path))
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "groups": {"high": ["en"], "low": ["ar"]},
                "strategy_specs": {
                    "gptq": {"quantizer": "gptq", "bits": 4, "group_size": 16},
                    "guided": {
                        "quantizer": "seed_absmax",
                        "protect": {"salience": {"method": "fisher", "top_percent": 5}},
                    },
                },
            }
        )
    )
    common = ["score", "--model", str(tiny_model_dir), "--split", split, "--config", str(config), "--json"]
    refused = _run(*common, "--strategy", "gptq")
    assert refused.returncode == 2 and "pass --calibration" in refused.stderr
    for strategy in ("gptq", "guided"):
        result = _run(*common, "--strategy", strategy, "--calibration", split)
        assert result.returncode == 0, result.stderr
        assert set(json.loads(result.stdout)["languages"]) == {"en", "ar"}


def _statistics_results(tmp_path, score_rows):
    """A results folder with the claims and ranking tables the workflow writes, from synthetic scores."""
    import numpy as np

    from quant_fairness.claims import COLUMNS as CLAIM_COLUMNS
    from quant_fairness.claims import claim_rows, protocols
    from quant_fairness.comparison import RANKING_COLUMNS, compare_strategies
    from quant_fairness.paired import paired_scores
    from quant_fairness.predicates import load_claims
    from quant_fairness.tables import write_tsv

    rng = np.random.default_rng(0)
    groups = {"high": ["en"], "low": ["he"]}
    base = {lang: rng.normal(200, 20, 20) for lang in ("en", "he")}
    strategies = {
        "seed_absmax_int4": score_rows({"en": base["en"] + 2.0, "he": base["he"] + 9.0}),
        "seed_keep5": score_rows({"en": base["en"] + 2.0, "he": base["he"] + 4.0}),
    }
    scores = paired_scores(score_rows(base), strategies)
    _, ranking = compare_strategies("m", scores, groups, "en", 1e-3, 100, 0)
    write_tsv(tmp_path / "statistics/m/ranking.tsv", ranking, RANKING_COLUMNS)
    claims = claim_rows(
        load_claims(ROOT / "config/claims.yaml"),
        {"m": scores},
        protocols(groups, {"groups": groups, "segments": 1}),
        "en",
        {"m": 1e-3},
        {},
        100,
        100,
        0,
    )
    write_tsv(tmp_path / "statistics/claims.tsv", claims, CLAIM_COLUMNS)
    return tmp_path


def test_claims_and_ranking_read_the_workflow_tables(tmp_path, score_rows):
    results = str(_statistics_results(tmp_path, score_rows))
    claims = _run("claims", "--results", results, "--json")
    assert claims.returncode == 0, claims.stderr
    verdicts = {(row["claim"], row["protocol"]): row["verdict"] for row in json.loads(claims.stdout)}
    assert verdicts[("keep5_reduces_disparity", "robust")] == "holds"
    assert verdicts[("gateway_below_one", "seed")] == "undefined"
    table = _run("claims", "--results", results, "--model", "m")
    assert "keep5_reduces_disparity" in table.stdout and "strategy seed_gateway was not run" in table.stdout
    ranking = _run("ranking", "--results", results, "--model", "m")
    assert ranking.returncode == 0, ranking.stderr
    lines = ranking.stdout.splitlines()
    assert lines[1].split()[:2] == ["1", "seed_keep5"] and lines[2].split()[:2] == ["2", "seed_absmax_int4"]


def test_statistics_commands_fail_in_one_line_without_tables(tmp_path):
    missing = _run("ranking", "--results", str(tmp_path), "--model", "m")
    assert missing.returncode == 2
    assert missing.stderr.strip().endswith("does not exist: run `snakemake --cores 2 statistics_all` first")
    assert len(missing.stderr.strip().splitlines()) == 1
