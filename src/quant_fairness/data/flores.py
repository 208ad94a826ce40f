"""FLORES+ through `datasets`: the gated hub dataset `openlanguagedata/flores_plus`, or a local
copy of its `dev/<code>.parquet` and `devtest/<code>.parquet` files. Segment id =
"<split>.DDDD.SSSS" (FLORES split, the article's first sentence, sentence). Test segments
come from `devtest`, calibration and selection segments from `dev`.

    texts = load_flores("openlanguagedata/flores_plus", {"en": "eng_Latn"}, ["en"])
    merged, splits = flores_splits(texts, {"calibration": 24, "selection": 24, "test": 20}, seed=0)
"""

import re
from pathlib import Path

from quant_fairness.data.corpus import assign_splits, common_ids, normalise
from quant_fairness.errors import QuantFairnessError, first_line

# Which of our splits each FLORES+ split feeds: test text never meets calibration or selection.
FLORES_SPLITS = {"dev": ("calibration", "selection"), "devtest": ("test",)}
FLORES_DATASET = "openlanguagedata/flores_plus"
FLORES_HUB = f"https://huggingface.co/datasets/{FLORES_DATASET}"


FLORES_LICENCE = "CC BY-SA 4.0"


def flores_about(pin):
    """What the report says of a FLORES+ corpus read from `pin` (a hub id@revision or a folder)."""
    return {
        "unit": "sentence",
        "text": "FLORES+ sentences aligned by id; test from devtest, calibration and selection from dev, "
        "split by article",
        "packages": {pin: FLORES_LICENCE},
    }


def is_local_copy(dataset):
    """A local folder in FLORES+'s layout, rather than a hub id."""
    return Path(dataset).is_dir()


def flores_segments(rows, split):
    """{segment id: text} of one language's FLORES+ split; sentences of one article (its url)
    share a document number, so the article is never cut across calibration and selection.

    An article is numbered by its first sentence's id, the same in every language, so a url
    missing in one language moves only that sentence (it becomes its own document)."""
    ordered = sorted(rows, key=lambda row: int(row["id"]))
    first_sentence = {}
    segments = {}
    for row in ordered:
        document = first_sentence.setdefault(row.get("url") or ("sentence", row["id"]), int(row["id"]))
        if row["text"].strip():
            segments[f"{split}.{document:04d}.{int(row['id']):04d}"] = normalise(row["text"])
    return segments


FLORES_CODE = re.compile(r"[a-z]{3}_[A-Z][a-z]{3}")


def flores_codes(codes, languages):
    """{lang: FLORES+ code}; one clear error for a language without one."""
    for lang in languages:
        if lang not in codes:
            raise QuantFairnessError(f"language {lang!r} has no FLORES+ code in corpus.codes (e.g. en: eng_Latn)")
        if not FLORES_CODE.fullmatch(codes[lang]):
            raise QuantFairnessError(
                f"corpus.codes.{lang}: {codes[lang]!r} is not a FLORES+ code; expected language_Script, e.g. eng_Latn"
            )
    return {lang: codes[lang] for lang in languages}


def flores_files(folder, codes, languages):
    """The parquet files of a local FLORES+ copy for `languages`; one clear error for a missing one."""
    files = []
    for lang, code in flores_codes(codes, languages).items():
        for split in FLORES_SPLITS:
            path = Path(folder) / split / f"{code}.parquet"
            if not path.is_file():
                raise QuantFairnessError(
                    f"language {lang!r}: local FLORES+ copy {str(folder)!r} has no {split}/{code}.parquet"
                )
            files.append(path)
    return files


def load_flores(dataset, codes, languages, revision=None):
    """{FLORES+ split: {lang: {id: text}}} for `languages`, each mapped to its FLORES+ code.

    `dataset` is a hub id (needs a connection and, for the gated FLORES+, a logged-in
    account that accepted its terms) or a local folder with the same parquet layout.
    """
    try:
        from datasets import load_dataset
    except ImportError:
        raise QuantFairnessError(
            "corpus source 'flores' needs the datasets package: pip install -e '.[paper]'"
        ) from None
    texts = {split: {} for split in FLORES_SPLITS}
    for lang, code in flores_codes(codes, languages).items():
        files = {split: f"{split}/{code}.parquet" for split in FLORES_SPLITS}
        try:
            loaded = load_dataset(dataset, data_files=files, revision=revision)
        except (OSError, ValueError) as error:
            remedy = (
                ""
                if is_local_copy(dataset)
                else f". FLORES+ is gated: accept its terms at {FLORES_HUB} and log in (hf auth login), "
                "or set corpus.dataset to a local copy"
            )
            raise QuantFairnessError(
                f"cannot load FLORES+ {code!r} (language {lang!r}) from {dataset!r}: {first_line(error)}{remedy}"
            ) from None
        for split in FLORES_SPLITS:
            texts[split][lang] = flores_segments(loaded[split], split)
    return texts


def flores_splits(texts, sizes, seed):
    """(merged {lang: {id: text}}, {split: sorted ids}): test from devtest, the rest from dev."""
    chosen = {}
    for flores_split, ours in FLORES_SPLITS.items():
        chosen.update(assign_splits(common_ids(texts[flores_split]), sizes, seed, ours))
    merged = {lang: {**texts["dev"][lang], **texts["devtest"][lang]} for lang in texts["dev"]}
    return merged, chosen
