"""Corpus normalisation, plain-file sources and split assignment."""

import json

import pytest

from quant_fairness.data.bible import strip_hebrew_marks
from quant_fairness.data.corpus import (
    assign_splits,
    common_ids,
    first_segments,
    group_of,
    normalise,
    read_split,
    split_rows,
)
from quant_fairness.data.plain import load_plain
from quant_fairness.data.sources import build_corpus, write_corpus
from quant_fairness.errors import QuantFairnessError


def test_hebrew_points_and_cantillation_are_stripped():
    pointed = "בְּרֵאשִׁ֖ית בָּרָ֣א אֱלֹהִ֑ים"
    assert strip_hebrew_marks(pointed) == "בראשית ברא אלהים"


def test_normalise_is_nfc_with_collapsed_whitespace():
    assert normalise("  e\u0301te\u0301   x\n") == "\u00e9t\u00e9 x"


def _bible_ids(chapters=30, verses=20):
    return [f"{b:02d}.{c:03d}.{v:03d}" for b in (1, 2) for c in range(1, chapters + 1) for v in range(1, verses + 1)]


def test_splits_are_disjoint_down_to_the_chapter_and_deterministic():
    sizes = {"calibration": 30, "selection": 20, "test": 40}
    splits = assign_splits(_bible_ids(), sizes, seed=7)
    assert {k: len(v) for k, v in splits.items()} == sizes
    chapters = {split: {group_of(i) for i in ids} for split, ids in splits.items()}
    assert not chapters["test"] & chapters["calibration"]
    assert not chapters["test"] & chapters["selection"]
    assert not chapters["selection"] & chapters["calibration"]
    assert splits == assign_splits(_bible_ids(), sizes, seed=7)
    assert splits != assign_splits(_bible_ids(), sizes, seed=8)


def test_a_split_larger_than_the_corpus_is_refused():
    with pytest.raises(QuantFairnessError, match="asks for 500 segments"):
        assign_splits(_bible_ids(chapters=3), {"calibration": 5, "selection": 5, "test": 500}, seed=0)


def test_plain_sources_align_by_id(tmp_path):
    (tmp_path / "en.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "text": f"sentence {i}"}) for i in ("a", "b", "c")) + "\n"
    )
    (tmp_path / "sw.txt").write_text("moja\n\nmbili\n")
    (tmp_path / "de.txt").write_text("eins\nzwei\ndrei\n")
    (tmp_path / "fr.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "text": f"phrase {i}"}) for i in ("b", "c", "d")) + "\n"
    )
    texts = load_plain(tmp_path, ["en", "fr"])
    assert common_ids(texts) == ["b", "c"]
    assert load_plain(tmp_path, ["sw", "de"])["sw"] == {"000001": "moja", "000003": "mbili"}
    rows = split_rows(texts, ["b", "c"])
    assert [(r["lang"], r["id"]) for r in rows] == [("en", "b"), ("en", "c"), ("fr", "b"), ("fr", "c")]


def test_unknown_language_and_empty_language_are_one_line_errors(tmp_path):
    (tmp_path / "en.txt").write_text("hello\n")
    (tmp_path / "he.txt").write_text("  \n")
    with pytest.raises(QuantFairnessError, match="language 'xx' has no xx.jsonl or xx.txt"):
        load_plain(tmp_path, ["en", "xx"])
    with pytest.raises(QuantFairnessError, match="language 'he' has no text"):
        common_ids(load_plain(tmp_path, ["en", "he"]))


def test_read_split_checks_requested_languages(tmp_path):
    path = tmp_path / "test.jsonl"
    path.write_text(json.dumps({"id": "1", "lang": "en", "text": "x"}) + "\n")
    assert read_split(path, ["en"])[0]["text"] == "x"
    with pytest.raises(QuantFairnessError, match="language 'he'"):
        read_split(path, ["en", "he"])


def test_malformed_jsonl_names_file_and_line(tmp_path):
    (tmp_path / "en.jsonl").write_text('{"id": "a", "text": "fine"}\n{"text": "no id"}\n')
    with pytest.raises(QuantFairnessError, match=r"en.jsonl:2: expected a JSON object with 'id' and 'text'"):
        load_plain(tmp_path, ["en"])


def test_an_id_twice_in_one_language_is_refused_naming_both_lines(tmp_path):
    rows = [{"id": "a", "text": "one"}, {"id": "b", "text": "two"}, {"id": "a", "text": "three"}]
    (tmp_path / "en.jsonl").write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    with pytest.raises(QuantFairnessError, match=r"en.jsonl: id 'a' is on lines 1 and 3; ids must be unique"):
        load_plain(tmp_path, ["en"])


def test_text_files_of_different_line_counts_are_refused(tmp_path):
    """One line missing in one language would shift every later pair by one."""
    (tmp_path / "en.txt").write_text("one\ntwo\nthree\n")
    (tmp_path / "sw.txt").write_text("moja\ntatu\n")
    with pytest.raises(QuantFairnessError, match=r"line counts differ \(en.txt 3, sw.txt 2 lines\)"):
        load_plain(tmp_path, ["en", "sw"])


def test_segments_some_language_lacks_are_counted_in_the_corpus_stats(tmp_path):
    for lang, ids in {"en": "abcdef", "fr": "abcde", "sw": "bcdef"}.items():
        (tmp_path / f"{lang}.jsonl").write_text(
            "".join(json.dumps({"id": i, "text": f"{lang} {i}"}) + "\n" for i in ids)
        )
    config = {
        "source": "plain",
        "path": str(tmp_path),
        "splits": {"calibration": 1, "selection": 1, "test": 1},
        "seed": 0,
    }
    corpus = build_corpus(config, ["en", "fr", "sw"], tmp_path / "wheels", tmp_path / "data")
    splits = [tmp_path / f"{split}.jsonl" for split in ("calibration", "selection", "test")]
    stats = write_corpus(corpus, splits, tmp_path / "stats.tsv", tmp_path / "sources.json")
    left_out = {row["lang"]: row["segments"] for row in stats if row["split"] == "unaligned"}
    assert left_out == {"en": 2, "fr": 1, "sw": 1}  # en: a and f; fr: a; sw: f
    assert json.loads((tmp_path / "sources.json").read_text())["unit"] == "line"


def test_asking_for_more_segments_than_a_split_has_is_refused():
    rows = [{"lang": "en", "id": str(i), "text": "x"} for i in range(3)]
    assert len(first_segments(rows, ["en"], 3)) == 3
    with pytest.raises(QuantFairnessError, match="asked for the first 4 segments of 'en', but the split has 3"):
        first_segments(rows, ["en"], 4)
