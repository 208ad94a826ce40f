"""Whose text calibrates a quantizer, and how much of it: the calibration set of a strategy.

GPTQ and AWQ read activations of calibration text. A strategy's `calibration_languages` names
whose: a group (`all`, `high`, `low`), language codes, or `matched` (one quantized model per
test language, each calibrated on that language alone). Its `calibration_tokens` says how
much: every setting gets the same number of text tokens (each segment's start token not
counted), split equally over its languages, so that two settings differ in language and not
in amount. Tokens, not
segments: scripts differ several-fold in tokens per byte, so equal segment counts would give
some languages far more text than others.

    languages = calibration_languages(strategy, groups, config["languages"])     # ["en"], or all of them, ...
    token_ids = calibration_token_ids(tokenizer, rows, languages, strategy.calibration_tokens)
"""

from quant_fairness.data.batches import tokenize_segments
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.strategies import CALIBRATION_GROUPS, MATCHED


def calibration_languages(strategy, groups, languages):
    """The languages whose calibration text `strategy` reads, in the order of `languages`;
    for `matched`, every language (each then calibrates its own model)."""
    chosen = strategy.calibration_languages
    if chosen in (MATCHED, "all"):
        return list(languages)
    named = groups[chosen] if chosen in CALIBRATION_GROUPS else chosen
    return [lang for lang in languages if lang in named]


def equal_shares(budget, count):
    """`budget` split into `count` whole shares differing by at most one, the larger first."""
    return [budget // count + (k < budget % count) for k in range(count)]


def calibration_token_ids(tokenizer, rows, languages, budget):
    """Token ids of calibration segments ({id, lang, text}), each after its start token, holding
    exactly `budget` text tokens: an equal share per language, each language's segments taken in
    order and its last one cut to fit (never to its start token alone). One clear line where a
    language has too little text."""
    chosen = []
    for lang, share in zip(languages, equal_shares(budget, len(languages)), strict=True):
        own = [row["text"] for row in rows if row["lang"] == lang]
        taken, total = [], 0
        for ids in tokenize_segments(tokenizer, own):
            if total >= share:
                break
            taken.append(ids[: 1 + share - total])
            total += len(taken[-1]) - 1
        if total < share:
            raise QuantFairnessError(
                f"calibration text of {lang!r} has {total} tokens ({len(own)} segments), fewer than its share of "
                f"{share} of calibration_tokens {budget}: enlarge corpus.splits.calibration or lower calibration_tokens"
            )
        chosen.extend(taken)
    return chosen
