"""The default configuration is valid, and each kind of bad configuration stops with one
line naming the bad value."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from quant_fairness.config import check_config
from quant_fairness.data.speakers import speakers
from quant_fairness.errors import QuantFairnessError
from quant_fairness.plan import model_strategies, planned_runs, swept_models

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"


def _default():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize("overlay", [None, "config/full.yaml", "config/wide.yaml", "tests/tiny_config.yaml"])
def test_shipped_configs_are_valid(overlay):
    config = _default()
    if overlay:  # merged over config.yaml as `snakemake --configfile` does
        update_config(config, yaml.safe_load((ROOT / overlay).read_text()))
    check_config(config, SCHEMA)


def test_the_wide_config_groups_its_languages_by_its_stated_rule():
    wide = yaml.safe_load((ROOT / "config/wide.yaml").read_text())
    many = [lang for lang in wide["languages"] if speakers(lang)[0] >= 100e6]  # at least 100 million speakers
    assert wide["groups"] == {"high": many, "low": [lang for lang in wide["languages"] if lang not in many]}


def _edit(change):
    config = copy.deepcopy(_default())
    change(config)
    return config


BAD = [
    (lambda c: c["languages"].append("xx"), "language 'xx' is not in the bible corpus"),
    (lambda c: c.update(models=["llama-9000"]), "model 'llama-9000' is not defined"),
    (lambda c: c["experiments"]["core"].update(strategies=["nf9"]), "experiments.core: strategy 'nf9' is not defined"),
    (lambda c: c["experiments"]["core"].update(models=["llama-9000"]), "experiments.core: model 'llama-9000'"),
    (lambda c: c["sweep"].update(strategy="gptq_int4_g32"), "sweep.strategy: 'gptq_int4_g32' reads calibration"),
    (
        lambda c: c["sweep"].update(strategy="seed_keep5"),
        "sweep.strategy: 'seed_keep5' reads calibration text or protects",
    ),
    (lambda c: c["sweep"].update(max_layers=0), "sweep.max_layers: 0 is less than the minimum of 1"),
    (lambda c: c["sweep"].update(models=["llama-9000"]), "sweep.models: model 'llama-9000' is not defined"),
    (
        lambda c: c["artifacts"].update(int4="rtn_int8_channel"),
        "artifacts.int4: strategy 'rtn_int8_channel' is not a 4-bit",
    ),
    (lambda c: c["artifacts"].update(int8="bnb_nf4"), "strategy 'bnb_nf4' cannot be packed"),
    (lambda c: c["artifacts"].update(fair=["seed_keep7"]), "artifacts.fair: strategy 'seed_keep7' is not defined"),
    (
        lambda c: c["artifacts"].update(fair=["rtn_int4_g32"]),
        "artifacts.fair: strategy 'rtn_int4_g32' protects no weight",
    ),
    (
        lambda c: (
            c["strategy_specs"].update(rtn_keep5={"quantizer": "rtn", "bits": 4, "protect": {"top_percent": 5}})
            or c["artifacts"].update(fair=["rtn_keep5"])
        ),
        "artifacts.fair: strategy 'rtn_keep5' does not quantize as artifacts.int4 'seed_absmax_int4'",
    ),
    (lambda c: c["experiments"].update(x={"models": ["gpt2"]}), "config experiments.x: 'strategies' is a required"),
    (lambda c: c["strategy_specs"].update(x={"quantizer": "rtn", "bits": 5}), "strategy 'x': bits 5 is not one of"),
    (lambda c: c["strategy_specs"].update(x={"quantizer": "magic"}), "strategy 'x': quantizer 'magic' is not one of"),
    (lambda c: c["groups"]["low"].append("ja"), "groups.low: language 'ja'"),
    (lambda c: c["corpus"].update(source="wikipedia"), "config corpus.source"),
    (lambda c: c["corpus"]["splits"].update(test=0), "config corpus.splits.test"),
    (lambda c: c.update(reference_language="ko"), "reference_language 'ko'"),
    (lambda c: c.update(colour="blue"), "colour"),
    (lambda c: c["stats"].update(noise_floor_dtype="float32"), "stats.noise_floor_dtype 'float32' equals evaluation"),
    (lambda c: c["stats"]["seed_protocol"].update(segments=0), "config stats.seed_protocol.segments"),
    (lambda c: c["resource_levels"].update(seed={"en": "high"}), "config resource_levels.seed.en"),
    (lambda c: c["groups"]["low"].append("en"), "groups: language 'en' is in both high and low"),
    (
        lambda c: c["stats"]["seed_protocol"]["groups"]["low"].append("hb"),
        "stats.seed_protocol.groups.low: language 'hb' is not in languages",
    ),
    (
        lambda c: c["stats"]["seed_protocol"]["groups"]["high"].append("zh"),
        "stats.seed_protocol.groups: language 'zh' is in both high and low",
    ),
    (
        lambda c: c["resource_levels"]["seed"].update(hb=c["resource_levels"]["seed"].pop("he")),
        "resource_levels.seed: 'hb' is not a language code (languages without a level in this scale: he, sw, hi)",
    ),
    (lambda c: c["languages"].append("../etc"), "config languages.8: '../etc' does not match"),
    (
        lambda c: c["report"]["practical"].append("library_comparision"),
        "report.practical: experiment 'library_comparision' is not defined; expected some of ['attention_only',",
    ),
    (lambda c: c["groups"]["low"].append("Hebrew"), "config groups.low.5: 'Hebrew' does not match"),
    (lambda c: c["resource_levels"]["seed"].update({"e n": 1}), "config resource_levels.seed: 'e n' does not match"),
    (lambda c: c["resource_levels"].update(log10_speakers={"en": 9}), "resource_levels.log10_speakers is built in"),
    (lambda c: c["sweep"].update(segments=100), "sweep.segments 100 is more than the 24 segments per language of the"),
    (
        lambda c: c["corpus"]["splits"].update(test=20) or c["stats"].update(noise_floor_segments=21),
        "stats.noise_floor_segments 21 is more than the 20 segments per language of the test split",
    ),
    (
        lambda c: c["corpus"]["splits"].update(test=20) or c["stats"]["seed_protocol"].update(segments=30),
        "stats.seed_protocol.segments 30 is more than the 20 segments per language of the test split",
    ),
    (
        lambda c: c["strategy_specs"]["gptq_int4_g32"].update(calibration_segments=99),
        "strategy 'gptq_int4_g32': calibration_segments was replaced by calibration_tokens",
    ),
    (
        lambda c: c["strategy_specs"]["seed_guided_low5"]["protect"]["salience"].update(segments=129),
        "strategy 'seed_guided_low5' salience segments 129 is more than the 128",
    ),
    (
        lambda c: c["strategy_specs"]["gptq_int4_g32_en"].update(calibration_languages="yo"),
        "strategy 'gptq_int4_g32_en': calibration language 'yo' is not in languages",
    ),
    (
        lambda c: c["strategy_specs"]["rtn_int4_g32"].update(calibration_languages="matched"),
        "strategy 'rtn_int4_g32': calibration_languages 'matched' applies to GPTQ and AWQ",
    ),
]


@pytest.mark.parametrize(("change", "fragment"), BAD)
def test_bad_config_is_one_clear_line(change, fragment):
    with pytest.raises(QuantFairnessError) as error:
        check_config(_edit(change), SCHEMA)
    assert fragment in str(error.value)
    assert "\n" not in str(error.value)


def test_plain_corpus_and_local_model_are_checked_before_any_job(tmp_path):
    (tmp_path / "en.txt").write_text("hello\n")
    config = _edit(
        lambda c: c.update(
            corpus={"source": "plain", "path": str(tmp_path), "splits": c["corpus"]["splits"], "seed": 0},
            languages=["en", "sw"],
            groups={"high": ["en"], "low": ["sw"]},
            stats={**c["stats"], "seed_protocol": {"groups": {"high": ["en"], "low": ["sw"]}, "segments": 1}},
        )
    )
    with pytest.raises(QuantFairnessError, match="language 'sw' has no sw.jsonl or sw.txt"):
        check_config(config, SCHEMA)
    (tmp_path / "sw.txt").write_text("habari\n")
    check_config(config, SCHEMA)
    config["model_sources"]["mine"] = {"local": str(tmp_path / "no-model")}
    config["models"] = ["mine"]
    with pytest.raises(QuantFairnessError, match="model 'mine': local folder .* is missing"):
        check_config(config, SCHEMA)
    (tmp_path / "no-model").mkdir()
    (tmp_path / "no-model/config.json").write_text("{}")
    with pytest.raises(QuantFairnessError, match="model 'mine': local folder .* has no tokenizer"):
        check_config(config, SCHEMA)
    (tmp_path / "no-model/tokenizer.json").write_text("{}")
    check_config(config, SCHEMA)
    (tmp_path / "sw.txt").write_text("habari\nyako\n")
    with pytest.raises(QuantFairnessError, match=r"line counts differ \(en.txt 1, sw.txt 2 lines\)"):
        check_config(config, SCHEMA)


def test_experiments_plan_each_run_once_and_follow_the_model_list():
    config = _default()
    runs = planned_runs(config)
    assert len(runs) == len(set(runs))
    assert ("gemma-3-270m", "seed_keep5") not in runs and ("smollm2-135m", "seed_keep5") in runs
    assert ("gemma-3-270m", "bnb_nf4") in runs
    only_gemma = {**config, "models": ["gemma-3-270m"]}
    assert {model for model, _ in planned_runs(only_gemma)} == {"gemma-3-270m"}
    assert model_strategies(only_gemma, "gemma-3-270m")[:3] == ["seed_absmax_int4", "rtn_int4_g32", "rtn_int8_channel"]


def test_the_sweep_runs_on_every_model_unless_sweep_models_names_fewer():
    config = _default()
    assert swept_models(config) == config["models"]
    assert swept_models({**config, "sweep": {**config["sweep"], "models": ["gemma-3-270m"]}}) == ["gemma-3-270m"]
    assert swept_models({**config, "sweep": {**config["sweep"], "models": []}}) == []
    check_config({**config, "sweep": {**config["sweep"], "models": []}}, SCHEMA)
