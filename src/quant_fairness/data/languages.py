"""What is known of each language of a run, one row per language: its name, the script its
text is written in (counted from the text, checked against the script `langcodes` expects),
its speaking population (data/speakers.py; `speakers_of` says whose count it is) and, per model,
how many tokens the model's tokenizer spends per byte of its test text.

    rows = language_table(read_split("resources/corpus/test.jsonl"), ["en", "am"], {"smollm2-135m": tokenizer})
    write_tsv("results/corpus/languages.tsv", rows, language_columns(["smollm2-135m"]))
"""

import logging
import math

import langcodes
import regex

from quant_fairness.data.batches import tokenize_segments
from quant_fairness.data.speakers import SPEAKER_SCALE, speakers

log = logging.getLogger(__name__)

# ISO 15924 codes of the scripts a text is counted in (regex matches \p{sc=CODE}). A text whose
# letters are mostly in none of them gets "Zzzz" (unknown), not the best of a few stray letters.
SCRIPTS = (
    "Latn", "Cyrl", "Grek", "Armn", "Geor", "Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Tfng", "Ethi", "Vaii",
    "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Olck", "Tibt",
    "Thai", "Laoo", "Mymr", "Khmr", "Hani", "Hira", "Kana", "Hang", "Bopo", "Yiii", "Mong", "Cher", "Cans",
)  # fmt: skip
# Scripts that langcodes names for a writing system mixing several.
COMPOSITE_SCRIPTS = {"Jpan": {"Hani", "Hira", "Kana"}, "Kore": {"Hang", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"}}
SCRIPT_OF_LETTER = regex.compile("|".join(rf"(?P<{code}>(?=\p{{L}})\p{{sc={code}}})" for code in SCRIPTS))
LETTER = regex.compile(r"\p{L}")
BASE_COLUMNS = ("lang", "name", "script", "likely_script", "script_agrees", "speakers", "speakers_of", SPEAKER_SCALE)


def language_columns(models):
    return (*BASE_COLUMNS, *(f"tokens_per_byte_{model}" for model in models))


def text_script(texts):
    """The ISO 15924 code of the script most letters of `texts` are written in."""
    counts = dict.fromkeys(SCRIPTS, 0)
    letters = 0
    for text in texts:
        letters += len(LETTER.findall(text))
        for match in SCRIPT_OF_LETTER.finditer(text):
            counts[match.lastgroup] += 1
    best = max(SCRIPTS, key=lambda code: counts[code])
    return best if 0 < counts[best] >= letters - sum(counts.values()) else "Zzzz"


def script_agrees(script, likely):
    return script == likely or script in COMPOSITE_SCRIPTS.get(likely, ())


def tokens_per_byte(tokenizer, texts):
    """Predicted tokens (each after the segment's start token, as scoring counts them) per UTF-8 byte."""
    tokens = sum(len(ids) - 1 for ids in tokenize_segments(tokenizer, texts))
    return tokens / sum(len(text.encode("utf-8")) for text in texts)


def language_row(lang, texts, tokenizers):
    tag = langcodes.Language.get(lang)
    likely = tag.maximize().script
    script = text_script(texts)
    agrees = script_agrees(script, likely)
    population, counted = speakers(lang)
    if not agrees:
        log.warning("%s: its text is written in %s, langcodes expects %s", lang, script, likely)
    return {
        "lang": lang,
        "name": tag.display_name(),
        # Where they agree, langcodes' code names the writing system (Jpan, Hans) the count cannot.
        "script": likely if agrees else script,
        "likely_script": likely,
        "script_agrees": "yes" if agrees else "no",
        "speakers": population if population is not None else "NA",
        "speakers_of": counted or "NA",
        SPEAKER_SCALE: f"{math.log10(population):.4f}" if population else "NA",
        **{f"tokens_per_byte_{model}": f"{tokens_per_byte(tok, texts):.6f}" for model, tok in tokenizers.items()},
    }


def language_table(rows, languages, tokenizers):
    """One row per language, in the order of `languages`, from split `rows` ({id, lang, text})."""
    return [language_row(lang, [row["text"] for row in rows if row["lang"] == lang], tokenizers) for lang in languages]
