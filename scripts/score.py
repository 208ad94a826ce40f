"""Snakemake script: per-segment NLL of one model on the test split, unquantized (rule
`baseline`) or under one strategy (rule `quantize_evaluate`)."""

import json
import time

from quant_fairness.atomic import write_text
from quant_fairness.corpus import read_split
from quant_fairness.evaluate import score_split
from quant_fairness.runlog import start_job
from quant_fairness.strategies import BASELINE, parse_strategy
from quant_fairness.tables import SCORE_COLUMNS, write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
name = snakemake.wildcards.get("strategy", BASELINE)
strategy = None if name == BASELINE else parse_strategy(name, snakemake.params.spec)
rows = read_split(snakemake.input.split, snakemake.params.languages)
started = time.perf_counter()
evaluation = snakemake.params.evaluation
scores, storage = score_split(snakemake.input.model, rows, strategy, evaluation["dtype"], evaluation["batch_tokens"])
seconds = time.perf_counter() - started
tokens = sum(row["tokens"] for row in scores)
log.info(
    "%s/%s: %d segments, %d tokens in %.1f s (%.0f tokens/s)",
    snakemake.wildcards.model,
    name,
    len(scores),
    tokens,
    seconds,
    tokens / seconds,
)
write_tsv(
    snakemake.output.scores,
    [{"model": snakemake.wildcards.model, "strategy": name, **row} for row in scores],
    SCORE_COLUMNS,
)
if storage is not None:
    write_text(
        snakemake.output.storage,
        json.dumps({"model": snakemake.wildcards.model, **storage}, indent=2, sort_keys=True) + "\n",
    )
