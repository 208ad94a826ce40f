"""How many people speak a language, and the resource scale that makes of it: log10 speakers,
a predictor every run has beside the configured resource scales. Torch-free, so the config
check and the statistics can read it.

    population, counted_as = speakers("cmn")          # (1325522927, "zh")
    scale = speaker_scale(read_tsv("results/corpus/languages.tsv"))   # {"en": 9.2375, ...}

Populations are CLDR's, through `language_data` and `langcodes`; of the macrolanguage where a
code names one of its members that CLDR counts nowhere (cmn -> zh, arb -> ar, pes -> fa, swh -> sw).
"""

import langcodes

SPEAKER_SCALE = "log10_speakers"


def speakers(lang):
    """(speaking population, the code it is counted for): the language's own count, else its
    macrolanguage's; (None, None) where language_data has none."""
    tag = langcodes.Language.get(lang)
    for counted in (tag, tag.prefer_macrolanguage()):
        population = counted.speaking_population()
        if population:
            return population, str(counted)
    return None, None


def speaker_scale(rows):
    """{lang: log10 speakers} of the language table's rows that have a population: the built-in
    resource scale, correlated and claimed about as resource_log10_speakers."""
    return {row["lang"]: float(row[SPEAKER_SCALE]) for row in rows if row[SPEAKER_SCALE] not in (None, "NA")}
