"""Snakemake script: one model quantized by one strategy, scored on the test split (NLL, and KL
divergence from the reference), with its exact storage and its timings (rule `quantize_evaluate`)."""

import json

from safetensors.torch import load_file

from quant_fairness.atomic import write_text
from quant_fairness.data.corpus import read_split
from quant_fairness.evaluate.divergence import Reference
from quant_fairness.evaluate.quantized import quantize_and_score
from quant_fairness.quantize.calibration import calibration_languages
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
model_name, languages, evaluation = snakemake.wildcards.model, snakemake.params.languages, snakemake.params.evaluation
strategy = parse_strategy(snakemake.wildcards.strategy, snakemake.params.spec)
calibration, chosen = None, None
if "calibration" in snakemake.input.keys():
    chosen = calibration_languages(strategy, snakemake.params.groups, languages)
    calibration = read_split(snakemake.input.calibration, chosen)
result = quantize_and_score(
    snakemake.input.model,
    read_split(snakemake.input.split, languages),
    strategy,
    Reference.read(snakemake.input.reference),
    f"model {model_name!r}, strategy {strategy.name!r}",
    calibration_rows=calibration,
    languages=chosen,
    salience_indices=load_file(snakemake.input.mask) if "mask" in snakemake.input.keys() else None,
    dtype=evaluation["dtype"],
    device=evaluation["device"],
    batch_tokens=evaluation["batch_tokens"],
)
tokens = sum(row["tokens"] for row in result.scores)
log.info(
    "%s/%s: quantized in %.1f s; %d segments, %d tokens in %.1f s (%.0f tokens/s)",
    model_name,
    strategy.name,
    result.quantize_seconds,
    len(result.scores),
    tokens,
    result.score_seconds,
    tokens / result.score_seconds,
)
write_scores(snakemake.output.scores, model_name, strategy.name, result.scores)
write_text(
    snakemake.output.storage, json.dumps({"model": model_name, **result.storage}, indent=2, sort_keys=True) + "\n"
)
# Timings vary run to run, so they live apart from the byte-stable result tables.
timing = {"quantize_seconds": result.quantize_seconds, "score_seconds": result.score_seconds, "tokens": tokens}
write_text(
    snakemake.output.timing, json.dumps({"model": model_name, "strategy": strategy.name, **timing}, indent=2) + "\n"
)
