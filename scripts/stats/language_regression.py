"""Snakemake script: per-language degradation regressed on the language predictors together,
for one model (rule `language_regression`)."""

from quant_fairness.runlog import start_job
from quant_fairness.stats.paired import load_paired
from quant_fairness.stats.regression import COLUMNS, regression_rows
from quant_fairness.tables import read_tsv, write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
rows = regression_rows(
    snakemake.wildcards.model,
    load_paired(snakemake.input.baseline, snakemake.input.strategies),
    read_tsv(snakemake.input.languages),
    resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
log.info("%d regression rows", len(rows))
