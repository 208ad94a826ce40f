"""The `quant-fairness` command, run as a user runs it."""

import json
import subprocess
import sys
from pathlib import Path

from conftest import split_rows, tiny_tokenizer, trained_tiny_model

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
    calibration = tmp_path / "calibration.jsonl"
    texts = {"en": "In the beginning God created the heaven and the earth.", "ar": "في البدء خلق الله السماوات والأرض"}
    calibration.write_text("".join(json.dumps({"id": "1", "lang": k, "text": v}) + "\n" for k, v in texts.items()))
    config = tmp_path / "config.yaml"
    config.write_text(
        json.dumps(
            {
                "languages": ["en", "ar"],
                "groups": {"high": ["en"], "low": ["ar"]},
                "strategy_specs": {
                    "gptq": {"quantizer": "gptq", "bits": 4, "group_size": 16, "calibration_tokens": 8},
                    "gptq_big": {"quantizer": "gptq", "bits": 4, "group_size": 16, "calibration_tokens": 10000},
                    "guided": {
                        "quantizer": "seed_absmax",
                        "protect": {"salience": {"method": "fisher", "top_percent": 5, "segments": 1}},
                    },
                },
            }
        )
    )
    common = ["score", "--model", str(tiny_model_dir), "--split", split, "--config", str(config), "--json"]
    refused = _run(*common, "--strategy", "gptq")
    assert refused.returncode == 2 and "pass --calibration" in refused.stderr
    for strategy in ("gptq", "guided"):
        result = _run(*common, "--strategy", strategy, "--calibration", str(calibration))
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        assert set(report["languages"]) == {"en", "ar"}
        for lang in ("en", "ar"):  # compared with the unquantized model it started as
            assert report["languages"][lang]["kld_bpb"] > 0 and 0 <= report["languages"][lang]["top1_agreement"] <= 1
    # --calibration-languages stands in for the strategy's own setting, and is checked.
    english = _run(*common, "--strategy", "gptq", "--calibration", str(calibration), "--calibration-languages", "en")
    assert english.returncode == 0, english.stderr
    assert json.loads(english.stdout)["calibration_languages"] == ["en"]
    matched = _run(
        *common, "--strategy", "gptq", "--calibration", str(calibration), "--calibration-languages", "matched"
    )
    assert matched.returncode == 0, matched.stderr
    assert json.loads(matched.stdout)["calibration_languages"] == "matched"
    typo = _run(*common, "--strategy", "gptq", "--calibration", str(calibration), "--calibration-languages", "sw")
    assert typo.returncode == 2 and "--calibration-languages 'sw' is not a group" in typo.stderr
    too_little = _run(*common, "--strategy", "gptq_big", "--calibration", str(calibration))
    assert (
        too_little.returncode == 2 and "fewer than its share of 5000 of calibration_tokens 10000" in too_little.stderr
    )


def _statistics_results(tmp_path, score_rows):
    """A results folder with the claims and ranking tables the workflow writes, from synthetic scores."""
    import numpy as np

    from quant_fairness.stats.claims import COLUMNS as CLAIM_COLUMNS
    from quant_fairness.stats.claims import claim_rows, protocols
    from quant_fairness.stats.comparison import RANKING_COLUMNS, compare_strategies
    from quant_fairness.stats.paired import paired_scores
    from quant_fairness.stats.predicates import load_claims
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


def _disparity_table(path, score_rows, base_nll, lost):
    """A disparity table (results/disparity/<model>.tsv) of a model whose baseline loses
    `base_nll` nats per 100-byte segment in each language, and `lost` more under seed_absmax_int4."""
    import numpy as np

    from quant_fairness.stats.disparity import COLUMNS, disparity_rows
    from quant_fairness.stats.paired import paired_scores
    from quant_fairness.tables import write_tsv

    rng = np.random.default_rng(0)
    base = {lang: nll + rng.normal(0, 1, 20) for lang, nll in base_nll.items()}
    quantized = {lang: base[lang] + lost[lang] for lang in base}
    scores = paired_scores(score_rows(base), {"seed_absmax_int4": score_rows(quantized)})
    groups = {"high": ["en"], "low": [lang for lang in base if lang != "en"]}
    write_tsv(path, disparity_rows("m", scores, groups, "en", 1e-3, 50, 0), COLUMNS)
    return str(path)


def test_corpora_flags_the_language_a_second_corpus_makes_suspiciously_easy(tmp_path, score_rows):
    # The second corpus is a little harder in every language but Tamil, which it makes 4x easier.
    bible = _disparity_table(tmp_path / "bible.tsv", score_rows, {"en": 60, "he": 90, "ta": 100, "fr": 70},
                             {"en": 1, "he": 3, "ta": 4, "fr": 1})  # fmt: skip
    udhr = _disparity_table(tmp_path / "udhr.tsv", score_rows, {"en": 66, "he": 99, "ta": 25, "am": 120},
                            {"en": 1, "he": 3, "ta": 0.5, "am": 6})  # fmt: skip
    result = _run("corpora", bible, udhr, "--strategy", "seed_absmax_int4", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["lang"]: row for row in json.loads(result.stdout)}
    assert list(rows) == ["en", "he", "ta"]  # the languages both cover
    assert [rows[lang]["flagged"] for lang in rows] == ["no", "no", "yes"]
    assert abs(rows["en"]["ratio"] - 1.1) < 0.02 and rows["ta"]["relative_ratio"] < 0.3
    assert rows["ta"]["delta_bpb_other"] < rows["ta"]["delta_bpb_reference"]
    table = _run("corpora", bible, udhr)
    assert table.returncode == 0 and "delta_bpb" not in table.stdout and len(table.stdout.splitlines()) == 4
    lone = _disparity_table(tmp_path / "lone.tsv", score_rows, {"en": 60, "sw": 80}, {"en": 1, "sw": 2})
    refused = _run("corpora", bible, lone)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "share 1 language(s) (en)" in refused.stderr
    unknown = _run("corpora", bible, udhr, "--strategy", "gptq_int4_g32")
    assert unknown.returncode == 2 and "'gptq_int4_g32' has no ΔBPB" in unknown.stderr


def _trained_model_dir(tmp_path):
    """A tiny Llama fitted to the split text (so quantizing it costs bits), saved with its tokenizer."""
    folder = tmp_path / "trained-llama"
    trained_tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    return folder


def _splits(tmp_path):
    paths = []
    for name in ("selection", "test"):
        path = tmp_path / f"{name}.jsonl"
        path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in split_rows()))
        paths += [f"--{name}", str(path)]
    return paths


def test_sweep_json_is_pure_json_and_recommend_prints_the_chosen_layers(tmp_path):
    model, splits = str(_trained_model_dir(tmp_path)), _splits(tmp_path)
    common = ["--model", model, "--langs", "en,he,ar", "--segments", "3", *splits]
    swept = _run("sweep", *common, "--max-layers", "2", "--json")
    assert swept.returncode == 0, swept.stderr
    result = json.loads(swept.stdout)
    assert len(result["chosen"]) == 2 and len(result["single"]) == 3
    assert {row["strategy"] for row in result["test"]} >= {"seed_absmax_int4"}
    recommended = _run("recommend", *common, "--top", "2")
    assert recommended.returncode == 0, recommended.stderr
    assert recommended.stdout.strip() == ",".join(map(str, result["chosen"]))
    human = _run("sweep", *common, "--max-layers", "1")
    assert "greedy set" in human.stdout and "test split" in human.stdout


def test_sweep_refuses_languages_without_a_group_in_one_line(tmp_path):
    result = _run("sweep", "--model", str(_trained_model_dir(tmp_path)), "--langs", "he,ar", *_splits(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "high group" in result.stderr


def test_pack_and_apply_round_trip_and_refuse_tampering(tiny_model_dir, tmp_path):
    patch, quantized, fair = tmp_path / "patch", tmp_path / "int4", tmp_path / "fair"
    packed = _run(
        "pack",
        "--model",
        str(tiny_model_dir),
        "--strategy",
        "seed_keep5",
        "-o",
        str(patch),
        "--quantized",
        str(quantized),
        "--json",
    )
    assert packed.returncode == 0, packed.stderr
    manifest = json.loads(packed.stdout)
    assert manifest["strategy"]["name"] == "seed_keep5" and manifest["protected_parameters"] > 0
    applied = _run("apply", "--base", str(quantized), "--patch", str(patch), "-o", str(fair))
    assert applied.returncode == 0, applied.stderr
    assert (fair / "config.json").is_file() and (fair / "model.safetensors").is_file()
    scored = _run("score", "--model", str(fair), "--split", str(_split(tmp_path)), "--json")
    assert scored.returncode == 0, scored.stderr
    data = bytearray((quantized / "quantized.safetensors").read_bytes())
    data[len(data) // 2] ^= 1
    (quantized / "quantized.safetensors").write_bytes(bytes(data))
    refused = _run("apply", "--base", str(quantized), "--patch", str(patch), "-o", str(tmp_path / "fair2"))
    assert refused.returncode == 2
    assert "base model" in refused.stderr and refused.stderr.strip().count("\n") == 0
    assert not (tmp_path / "fair2").exists()


def test_pack_refuses_an_unpackable_strategy_in_one_line(tiny_model_dir, tmp_path):
    result = _run("pack", "--model", str(tiny_model_dir), "--strategy", "bnb_nf4", "-o", str(tmp_path / "p"))
    assert result.returncode == 2 and "cannot be packed" in result.stderr
    assert result.stderr.strip().count("\n") == 0 and not (tmp_path / "p").exists()
