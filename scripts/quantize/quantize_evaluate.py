"""Snakemake script: one model quantized by one strategy, scored on the test split, with its
exact storage and its timings (rule `quantize_evaluate`)."""

import json
import time

from safetensors.torch import load_file

from quant_fairness.atomic import write_text
from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.apply import quantize_model
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
model_name, languages, evaluation = snakemake.wildcards.model, snakemake.params.languages, snakemake.params.evaluation
strategy = parse_strategy(snakemake.wildcards.strategy, snakemake.params.spec)
rows = read_split(snakemake.input.split, languages)
salience_indices = load_file(snakemake.input.mask) if "mask" in snakemake.input.keys() else None
calibration_rows = None
if "calibration" in snakemake.input.keys():
    calibration = read_split(snakemake.input.calibration, languages)
    calibration_rows = first_segments(calibration, languages, strategy.calibration_segments)
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
split = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"])
storage, quantize_seconds = quantize_model(
    model, tokenizer, strategy, salience_indices, calibration_rows, evaluation["batch_tokens"]
)
started = time.perf_counter()
scores = split.score(model, f"model {model_name!r}, strategy {strategy.name!r}")
score_seconds = time.perf_counter() - started
tokens = sum(row["tokens"] for row in scores)
log.info(
    "%s/%s: quantized in %.1f s; %d segments, %d tokens in %.1f s (%.0f tokens/s)",
    model_name,
    strategy.name,
    quantize_seconds,
    len(scores),
    tokens,
    score_seconds,
    tokens / score_seconds,
)
write_scores(snakemake.output.scores, model_name, strategy.name, scores)
write_text(snakemake.output.storage, json.dumps({"model": model_name, **storage}, indent=2, sort_keys=True) + "\n")
# Timings vary run to run, so they live apart from the byte-stable result tables.
timing = {"quantize_seconds": quantize_seconds, "score_seconds": score_seconds, "tokens": tokens}
write_text(
    snakemake.output.timing, json.dumps({"model": model_name, "strategy": strategy.name, **timing}, indent=2) + "\n"
)
