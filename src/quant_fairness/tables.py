"""Tab-separated tables, written atomically with a fixed column order and number format,
so the same results give byte-identical files."""

import csv
import io

from quant_fairness.atomic import atomic_path
from quant_fairness.errors import QuantFairnessError

# kl_divergence (nats) and top1_agreement (positions) compare a model with the unquantized
# reference; they are NA where a table has no reference to compare with (the baseline itself).
SCORE_COLUMNS = ("model", "strategy", "lang", "id", "tokens", "bytes", "nll", "kl_divergence", "top1_agreement")
SALIENCE_COLUMNS = ("model", "lang", "parameter", "component", "layer", "share")


def format_value(value):
    if value is None:
        return "NA"
    if isinstance(value, float):  # numpy's float64 too, whose own repr names its type
        return repr(float(value))
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
    """Rows of a table as dicts; a file without even a header line is one clear error."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames is None:
            raise QuantFairnessError(
                f"{path} is empty: expected a table with a header line (rerun the rule that writes it)"
            )
        return list(reader)


def read_scores(path):
    """Per-segment scores with numeric columns parsed; a table without rows is one clear error."""
    rows = read_tsv(path)
    if not rows:
        raise QuantFairnessError(f"{path} has no rows: expected one row per language and segment")
    for row in rows:
        row["tokens"], row["bytes"], row["nll"] = int(row["tokens"]), int(row["bytes"]), float(row["nll"])
        for column, kind in (("kl_divergence", float), ("top1_agreement", int)):
            value = row.get(column, "NA")
            row[column] = None if value == "NA" else kind(value)
    return rows


def write_scores(path, model, strategy, rows):
    """A score table: one row per segment ({lang, id, tokens, bytes, nll}) of `model` under `strategy`."""
    write_tsv(path, [{"model": model, "strategy": strategy, **row} for row in rows], SCORE_COLUMNS)
