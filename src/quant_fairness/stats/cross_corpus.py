"""Has the model seen this text before? The same model scored on two corpora (say the Bible of
the default run and the UDHR of the wide one), compared on the languages both cover.

Texts copied all over the web (the Bible, the UDHR) sit in most pretraining crawls, and a
model may have memorised them unevenly across languages: a memorised translation scores far
fewer bits per byte than the model's level in that language, which also hides how much
quantization costs there. Genre shifts every language's BPB alike, so a language is judged
against the model's typical ratio between the corpora (the median over the shared languages):
it is flagged when its ratio falls below `threshold` times that median, that is, when the
second corpus is much easier for the model in this language than in the others. ΔBPB of a
strategy both runs have is shown beside it: a flagged language's ΔBPB is suspect too.

    rows = cross_corpus_rows(bible_disparity_rows, udhr_disparity_rows, "rtn_int4_g32", threshold=0.67)
"""

import statistics

from quant_fairness.errors import QuantFairnessError

THRESHOLD = 0.67
COLUMNS = (
    "lang",
    "bpb_reference",
    "bpb_other",
    "ratio",
    "relative_ratio",
    "flagged",
    "delta_bpb_reference",
    "delta_bpb_other",
)


def _by_language(rows, metric, strategy=None):
    """{language: value} of a disparity table's per-language `metric` (of `strategy`, or of any)."""
    values = {}
    for row in rows:
        if row["metric"] == metric and row["value"] != "NA" and strategy in (None, row["strategy"]):
            values.setdefault(row["scope"], float(row["value"]))
    return values


def cross_corpus_rows(reference_rows, other_rows, strategy=None, threshold=THRESHOLD):
    """One row per language both disparity tables cover, in the reference table's order."""
    reference, other = _by_language(reference_rows, "bpb_baseline"), _by_language(other_rows, "bpb_baseline")
    shared = [lang for lang in reference if lang in other]
    if len(shared) < 2:
        raise QuantFairnessError(
            f"the two runs share {len(shared)} language(s) ({', '.join(shared) or 'none'}); "
            "at least 2 are needed to judge a language against the model's typical ratio"
        )
    ratio = {lang: other[lang] / reference[lang] for lang in shared}
    typical = statistics.median(ratio.values())
    delta = {}
    if strategy is not None:
        delta = {
            "delta_bpb_reference": _by_language(reference_rows, "delta_bpb", strategy),
            "delta_bpb_other": _by_language(other_rows, "delta_bpb", strategy),
        }
        missing = [name for name, values in delta.items() if not values]
        if missing:
            raise QuantFairnessError(f"strategy {strategy!r} has no ΔBPB in the {' and '.join(missing)} table")
    return [
        {
            "lang": lang,
            "bpb_reference": reference[lang],
            "bpb_other": other[lang],
            "ratio": ratio[lang],
            "relative_ratio": ratio[lang] / typical,
            "flagged": "yes" if ratio[lang] / typical < threshold else "no",
            **{name: values.get(lang) for name, values in delta.items()},
        }
        for lang in shared
    ]
