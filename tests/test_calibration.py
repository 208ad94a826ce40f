"""Whose text calibrates GPTQ and AWQ: a language, a group, every language, or each test language
on its own model (`matched`), always the same number of tokens, split equally."""

from pathlib import Path

import pytest
import yaml
from conftest import TEXTS, split_rows, tiny_model, tiny_tokenizer

from quant_fairness.config import check_config
from quant_fairness.data.batches import tokenize_segments
from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.quantized import quantize_and_score
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.calibration import calibration_languages, calibration_token_ids, equal_shares
from quant_fairness.quantize.strategies import parse_strategy

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"high": ["en"], "low": ["he", "ar"]}
GPTQ = {"quantizer": "gptq", "bits": 4, "group_size": 16}


def test_calibration_languages_name_a_group_languages_or_each_language():
    languages = ["en", "he", "ar"]

    def chosen(value):
        return calibration_languages(parse_strategy("s", {**GPTQ, "calibration_languages": value}), GROUPS, languages)

    assert chosen("all") == languages and chosen("low") == ["he", "ar"] and chosen("high") == ["en"]
    assert chosen("ar") == ["ar"] and chosen(["ar", "en"]) == ["en", "ar"]  # in the run's order
    assert chosen("matched") == languages
    assert parse_strategy("s", {**GPTQ, "calibration_languages": "matched"}).matched


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"quantizer": "rtn", "calibration_languages": "matched"}, "applies to GPTQ and AWQ, which read calibration"),
        ({"quantizer": "gguf", "format": "Q4_0", "calibration_tokens": 64}, "quantizer 'gguf' reads none"),
        ({**GPTQ, "calibration_segments": 8}, "calibration_segments was replaced by calibration_tokens"),
        ({**GPTQ, "calibration_languages": 7}, "calibration_languages 7 must be one of"),
        ({**GPTQ, "calibration_tokens": 0}, "calibration_tokens 0 must be a positive integer"),
    ],
)
def test_calibration_keys_are_refused_where_they_cannot_apply(spec, message):
    with pytest.raises(QuantFairnessError, match="strategy 's'") as error:
        parse_strategy("s", spec)
    assert message in str(error.value)


def test_every_setting_reads_exactly_the_budget_split_equally_over_its_languages():
    tokenizer = tiny_tokenizer()
    rows = split_rows() + split_rows(offset=1)
    for languages in (["en"], ["he", "ar"], ["en", "he", "ar"]):
        token_ids = calibration_token_ids(tokenizer, rows, languages, 50)
        assert sum(len(ids) - 1 for ids in token_ids) == 50  # text tokens, each segment's start token aside
        # The share of each language, in its own segments, taken in order and the last one cut.
        taken = iter(token_ids)
        for lang, share in zip(languages, equal_shares(50, len(languages)), strict=True):
            own = tokenize_segments(tokenizer, [row["text"] for row in rows if row["lang"] == lang])
            total = 0
            for ids in own:
                if total >= share:
                    break
                piece = next(taken)
                assert piece == ids[: len(piece)] and len(piece) >= 2  # never the start token alone
                total += len(piece) - 1
            assert total == share
    assert equal_shares(10, 3) == [4, 3, 3]


def test_too_little_calibration_text_in_a_language_is_one_line():
    with pytest.raises(QuantFairnessError, match=r"calibration text of 'en' has 35 tokens \(3 segments\), fewer"):
        calibration_token_ids(tiny_tokenizer(), split_rows(), ["en", "he"], 10_000)


def test_matched_calibration_quantizes_one_model_per_language_on_that_language_alone(tmp_path):
    folder = tmp_path / "model"
    tiny_model("llama").save_pretrained(folder)
    tiny_tokenizer().save_pretrained(folder)
    rows, calibration = split_rows(), split_rows(offset=1)
    model = tiny_model("llama")
    _, reference = TokenizedSplit(model, tiny_tokenizer(), rows).record(model)
    strategy = parse_strategy("matched", {**GPTQ, "calibration_languages": "matched", "calibration_tokens": 24})
    result = quantize_and_score(folder, rows, strategy, reference, "m", calibration, list(TEXTS))
    assert [(row["lang"], row["id"]) for row in result.scores] == [(row["lang"], row["id"]) for row in rows]
    assert result.storage["models"] == 3 and set(result.storage["per_language"]) == set(TEXTS)
    assert result.storage["storage_bits_all_models"] == 3 * result.storage["storage_bits"]
    # Hebrew's rows are scored by the model calibrated on Hebrew alone: the same as quantizing for
    # Hebrew by itself.
    single = parse_strategy("he", {**GPTQ, "calibration_languages": "he", "calibration_tokens": 24})
    hebrew = [row for row in rows if row["lang"] == "he"]
    alone = quantize_and_score(folder, hebrew, single, reference, "he", calibration, ["he"])
    assert [row for row in result.scores if row["lang"] == "he"] == alone.scores
    everyone = parse_strategy("all", {**GPTQ, "calibration_tokens": 24})
    together = quantize_and_score(folder, hebrew, everyone, reference, "all", calibration, list(TEXTS))
    assert together.scores != alone.scores  # calibrating on all three languages is another model


def test_a_calibration_language_the_run_lacks_stops_the_config():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["strategy_specs"]["gptq_int4_g32_en"]["calibration_languages"] = "yo"
    with pytest.raises(QuantFairnessError, match="strategy 'gptq_int4_g32_en': calibration language 'yo' is not in"):
        check_config(config, ROOT / "workflow/schemas/config.schema.yaml")
