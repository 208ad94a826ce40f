"""Snakemake script: per-segment NLL of one model on the test split, unquantized (rule
`baseline`) or under one strategy (rule `quantize_evaluate`)."""

import json
import time

from safetensors.torch import load_file

from quant_fairness.atomic import write_text
from quant_fairness.corpus import first_segments, read_split
from quant_fairness.evaluate import score_split
from quant_fairness.runlog import start_job
from quant_fairness.strategies import BASELINE, parse_strategy
from quant_fairness.tables import SCORE_COLUMNS, write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
model_name = snakemake.wildcards.model
name = snakemake.wildcards.get("strategy", BASELINE)
strategy = None if name == BASELINE else parse_strategy(name, snakemake.params.spec)
languages = snakemake.params.languages
rows = read_split(snakemake.input.split, languages)
if snakemake.params.get("segments"):  # the noise-floor rescoring uses the first segments only
    rows = first_segments(rows, languages, snakemake.params.segments)
salience_indices = load_file(snakemake.input.mask) if "mask" in snakemake.input.keys() else None
calibration_rows = None
if "calibration" in snakemake.input.keys():
    calibration = read_split(snakemake.input.calibration, languages)
    calibration_rows = first_segments(calibration, languages, strategy.calibration_segments)
started = time.perf_counter()
evaluation = snakemake.params.evaluation
scores, storage, quantize_seconds = score_split(
    snakemake.input.model,
    rows,
    strategy,
    evaluation["dtype"],
    evaluation["batch_tokens"],
    salience_indices,
    calibration_rows,
    evaluation["device"],
)
seconds = time.perf_counter() - started
tokens = sum(row["tokens"] for row in scores)
log.info(
    "%s/%s: quantized in %.1f s; %d segments, %d tokens in %.1f s (%.0f tokens/s)",
    model_name,
    name,
    quantize_seconds,
    len(scores),
    tokens,
    seconds - quantize_seconds,
    tokens / (seconds - quantize_seconds),
)
write_tsv(
    snakemake.output.scores,
    [{"model": model_name, "strategy": name, **row} for row in scores],
    SCORE_COLUMNS,
)
if storage is not None:
    write_text(
        snakemake.output.storage,
        json.dumps({"model": model_name, **storage}, indent=2, sort_keys=True) + "\n",
    )
    # Timings vary run to run, so they live apart from the byte-stable result tables.
    timing = {"quantize_seconds": quantize_seconds, "score_seconds": seconds - quantize_seconds, "tokens": tokens}
    write_text(snakemake.output.timing, json.dumps({"model": model_name, "strategy": name, **timing}, indent=2) + "\n")
