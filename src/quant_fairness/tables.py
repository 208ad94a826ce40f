"""Tab-separated tables, written atomically with a fixed column order and number format,
so the same results give byte-identical files."""

import csv
import io

from quant_fairness.atomic import atomic_path

SCORE_COLUMNS = ("model", "strategy", "lang", "id", "tokens", "bytes", "nll")
SALIENCE_COLUMNS = ("model", "lang", "parameter", "component", "layer", "share")


def format_value(value):
    if value is None:
        return "NA"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def write_tsv(path, rows, columns):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([format_value(row.get(column)) for column in columns])
    with atomic_path(path) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")


def read_tsv(path):
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def read_scores(path):
    """Per-segment scores with numeric columns parsed."""
    rows = read_tsv(path)
    for row in rows:
        row["tokens"], row["bytes"], row["nll"] = int(row["tokens"]), int(row["bytes"]), float(row["nll"])
    return rows


def write_scores(path, model, strategy, rows):
    """A score table: one row per segment ({lang, id, tokens, bytes, nll}) of `model` under `strategy`."""
    write_tsv(path, [{"model": model, "strategy": strategy, **row} for row in rows], SCORE_COLUMNS)
