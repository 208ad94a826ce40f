"""A parallel multilingual corpus: shared ids, disjoint calibration / selection / test splits.

Sources (quant_fairness.data.sources dispatches on `corpus.source`) give {lang: {id: text}};
this module aligns them and draws the splits. Splits are drawn by *group* (a Bible chapter,
a FLORES+ document, or a single segment for plain files), so neighbouring sentences never
sit on both sides of a split, and every language gets the same segment ids.

    splits = assign_splits(common_ids(texts), {"test": 48, ...}, seed=0)
    rows = split_rows(texts, splits["test"])       # [{id, lang, text}], by language then id
    rows = read_split("resources/corpus/test.jsonl", ["en", "he"])
"""

import hashlib
import json
import unicodedata
from pathlib import Path

import numpy as np

from quant_fairness.errors import QuantFairnessError

SPLITS = ("calibration", "selection", "test")


def normalise(text):
    """NFC, without combining marks for Hebrew points/cantillation, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def check_languages(languages, available, source):
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        raise QuantFairnessError(
            f"language {unknown[0]!r} is not in corpus source {source!r}; expected one of {sorted(available)}"
        )


def text_digest(segments):
    """SHA-256 of one language's {id: text}, as sorted JSON: the text's fingerprint where no file is kept."""
    return hashlib.sha256(json.dumps(segments, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


def common_ids(texts):
    """Ids that have text in every language; one clear error if a language has none."""
    for lang, segments in texts.items():
        if not segments:
            raise QuantFairnessError(f"language {lang!r} has no text in this corpus")
    shared = set.intersection(*(set(segments) for segments in texts.values()))
    if not shared:
        raise QuantFairnessError(f"languages {sorted(texts)} share no segment id")
    return sorted(shared)


def unaligned_ids(texts):
    """{lang: sorted ids} of each language's segments that some other language lacks: text the
    corpus leaves out, so that every language is scored on the same ids."""
    shared = set.intersection(*(set(segments) for segments in texts.values()))
    return {lang: sorted(set(segments) - shared) for lang, segments in sorted(texts.items())}


def group_of(segment_id):
    """Bible ids group by chapter ("01.001"); other ids are their own group."""
    parts = segment_id.split(".")
    return ".".join(parts[:2]) if len(parts) == 3 else segment_id


def assign_splits(ids, sizes, seed, splits=SPLITS, group=group_of):
    """{split: sorted ids} for each of `splits`: groups (`group(id)`, kept in one split) are
    shuffled with `seed` and each is dealt to the split whose pool is smallest relative to its
    requested size, then `sizes[split]` ids are sampled from each split's pool."""
    groups = {}
    for segment_id in ids:
        groups.setdefault(group(segment_id), []).append(segment_id)
    rng = np.random.default_rng(seed)
    names = sorted(groups)
    order = [names[i] for i in rng.permutation(len(names))]
    pools = {split: [] for split in splits}
    for group in order:
        split = min(splits, key=lambda s: (len(pools[s]) / sizes[s], splits.index(s)))
        pools[split].extend(groups[group])
    chosen = {}
    for split in splits:
        pool = sorted(pools[split])
        if len(pool) < sizes[split]:
            raise QuantFairnessError(
                f"split {split!r} asks for {sizes[split]} segments but the corpus offers {len(pool)}"
            )
        picked = rng.choice(len(pool), size=sizes[split], replace=False)
        chosen[split] = sorted(pool[i] for i in picked)
    return chosen


def split_rows(texts, ids):
    """Rows {id, lang, text} for one split, ordered by language then id."""
    return [{"id": i, "lang": lang, "text": texts[lang][i]} for lang in sorted(texts) for i in ids]


def read_split(path, languages=None):
    """Rows of a split file, optionally restricted to `languages` (checked present)."""
    rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line]
    if languages is not None:
        present = {row["lang"] for row in rows}
        check_languages(languages, present, str(path))
        rows = [row for row in rows if row["lang"] in set(languages)]
    return rows


def first_segments(rows, languages, count):
    """The first `count` rows of each language, languages in the given order (calibration and
    selection subsets); one line if a language has fewer, rather than a silently smaller set."""
    chosen = []
    for lang in languages:
        own = [row for row in rows if row["lang"] == lang]
        if len(own) < count:
            raise QuantFairnessError(f"asked for the first {count} segments of {lang!r}, but the split has {len(own)}")
        chosen.extend(own[:count])
    return chosen


def split_stats(rows, split, languages=()):
    """Per-language segment, character and byte counts for one split; each of `languages` gets a
    row even where it has no segment."""
    stats = {lang: {"split": split, "lang": lang, "segments": 0, "chars": 0, "bytes": 0} for lang in languages}
    for row in rows:
        entry = stats.setdefault(
            row["lang"], {"split": split, "lang": row["lang"], "segments": 0, "chars": 0, "bytes": 0}
        )
        entry["segments"] += 1
        entry["chars"] += len(row["text"])
        entry["bytes"] += len(row["text"].encode("utf-8"))
    return [stats[lang] for lang in sorted(stats)]
