"""Snakemake script: degradation vs resource predictors across languages, for one model
(rule `resource_correlation`)."""

from quant_fairness.runlog import start_job
from quant_fairness.stats.correlation import COLUMNS, correlation_rows, resource_scales
from quant_fairness.stats.noise_floor import read_noise_floor
from quant_fairness.stats.paired import load_paired
from quant_fairness.tables import read_tsv, write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
rows = correlation_rows(
    snakemake.wildcards.model,
    load_paired(snakemake.input.baseline, snakemake.input.strategies),
    resource_scales(snakemake.params.resource_levels, read_tsv(snakemake.input.languages)),
    noise_floor=read_noise_floor(snakemake.input.noise_floor),
    kld_floor=read_noise_floor(snakemake.input.noise_floor, "kld"),
    resamples=stats["bootstrap_resamples"],
    permutations=stats["permutation_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
log.info("%d correlation rows", len(rows))
