"""What is known of each language of a run, one row per language: its name, the script its
text is written in (counted from the text, checked against the script `langcodes` expects),
its speaking population (`language_data`, through `langcodes`) and, per model, how many tokens
the model's tokenizer spends per byte of its test text.

    rows = language_table(read_split("resources/corpus/test.jsonl"), ["en", "am"], {"smollm2-135m": tokenizer})
    write_tsv("results/corpus/languages.tsv", rows, language_columns(["smollm2-135m"]))

Populations are of the macrolanguage where a code names one of its members that `language_data`
counts nowhere (cmn -> zh, arb -> ar, pes -> fa, swh -> sw); `speakers_of` says whose count it is.
"""

import logging
import math

import langcodes
import regex

from quant_fairness.data.batches import tokenize_segments

log = logging.getLogger(__name__)

# ISO 15924 codes of the scripts a text is counted in (regex matches \p{sc=CODE}); a letter in
# none of them counts as "Zzzz" (unknown).
SCRIPTS = (
    "Latn", "Cyrl", "Grek", "Armn", "Geor", "Arab", "Hebr", "Syrc", "Thaa", "Nkoo", "Tfng", "Ethi", "Vaii",
    "Deva", "Beng", "Guru", "Gujr", "Orya", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Olck", "Tibt",
    "Thai", "Laoo", "Mymr", "Khmr", "Hani", "Hira", "Kana", "Hang", "Bopo", "Yiii", "Mong", "Cher", "Cans",
)  # fmt: skip
# Scripts that langcodes names for a writing system mixing several.
COMPOSITE_SCRIPTS = {"Jpan": {"Hani", "Hira", "Kana"}, "Kore": {"Hang", "Hani"}, "Hans": {"Hani"}, "Hant": {"Hani"}}
SCRIPT_OF_LETTER = regex.compile("|".join(rf"(?P<{code}>(?=\p{{L}})\p{{sc={code}}})" for code in SCRIPTS))
LETTER = regex.compile(r"\p{L}")
SPEAKER_SCALE = "log10_speakers"  # a resource scale every run has, beside the configured ones
BASE_COLUMNS = ("lang", "name", "script", "likely_script", "script_agrees", "speakers", "speakers_of", "log10_speakers")


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


def speakers(lang):
    """(speaking population, the code it is counted for): the language's own count, else its
    macrolanguage's; (None, None) where language_data has none."""
    tag = langcodes.Language.get(lang)
    for counted in (tag, tag.prefer_macrolanguage()):
        population = counted.speaking_population()
        if population:
            return population, str(counted)
    return None, None


def tokens_per_byte(tokenizer, texts):
    """Predicted tokens (each after the segment's start token, as scoring counts them) per UTF-8 byte."""
    tokens = sum(len(ids) - 1 for ids in tokenize_segments(tokenizer, texts))
    return tokens / sum(len(text.encode("utf-8")) for text in texts)


def language_row(lang, texts, tokenizers):
    tag = langcodes.Language.get(lang)
    likely = tag.maximize().script
    script = text_script(texts)
    population, counted = speakers(lang)
    if not script_agrees(script, likely):
        log.warning("%s: its text is written in %s, langcodes expects %s", lang, script, likely)
    return {
        "lang": lang,
        "name": tag.display_name(),
        "script": likely if script_agrees(script, likely) else script,
        "likely_script": likely,
        "script_agrees": "yes" if script_agrees(script, likely) else "no",
        "speakers": population if population is not None else "NA",
        "speakers_of": counted or "NA",
        "log10_speakers": f"{math.log10(population):.4f}" if population else "NA",
        **{f"tokens_per_byte_{model}": f"{tokens_per_byte(tok, texts):.6f}" for model, tok in tokenizers.items()},
    }


def language_table(rows, languages, tokenizers):
    """One row per language, in the order of `languages`, from split `rows` ({id, lang, text})."""
    return [language_row(lang, [row["text"] for row in rows if row["lang"] == lang], tokenizers) for lang in languages]


def speaker_scale(rows):
    """{lang: log10 speakers} of the language table's rows that have a population: the built-in
    resource scale, correlated and claimed about as resource_log10_speakers."""
    return {row["lang"]: float(row[SPEAKER_SCALE]) for row in rows if row[SPEAKER_SCALE] not in (None, "NA")}
