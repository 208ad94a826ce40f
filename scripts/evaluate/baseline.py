"""Snakemake script: per-segment NLL of the unquantized model on the test split, and the
reference every quantized model's KL divergence is measured against (rule `baseline`)."""

import time

from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.strategies import BASELINE
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
model_name, evaluation = snakemake.wildcards.model, snakemake.params.evaluation
rows = read_split(snakemake.input.split, snakemake.params.languages)
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
split = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"])
started = time.perf_counter()
scores, reference = split.record(model, f"model {model_name!r}, strategy {BASELINE!r}")
seconds = time.perf_counter() - started
tokens = sum(row["tokens"] for row in scores)
log.info(
    "%s: %d segments, %d tokens in %.1f s (%.0f tokens/s)", model_name, len(scores), tokens, seconds, tokens / seconds
)
write_scores(snakemake.output.scores, model_name, BASELINE, scores)
reference.write(snakemake.output.reference, model_name)
