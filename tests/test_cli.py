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
