"""Snakemake script: per-segment NLL of the unquantized model on the test split (rule `baseline`;
rule `baseline_numerics` rescores its first segments in a second dtype)."""

import time

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.quantize.strategies import BASELINE
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
model_name, languages, evaluation = snakemake.wildcards.model, snakemake.params.languages, snakemake.params.evaluation
rows = read_split(snakemake.input.split, languages)
if snakemake.params.get("segments"):  # the noise-floor rescoring uses the first segments only
    rows = first_segments(rows, languages, snakemake.params.segments)
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
split = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"])
started = time.perf_counter()
scores = split.score(model, f"model {model_name!r}, strategy {BASELINE!r}")
seconds = time.perf_counter() - started
tokens = sum(row["tokens"] for row in scores)
log.info(
    "%s: %d segments, %d tokens in %.1f s (%.0f tokens/s)", model_name, len(scores), tokens, seconds, tokens / seconds
)
write_scores(snakemake.output.scores, model_name, BASELINE, scores)
