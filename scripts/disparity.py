"""Snakemake script: per-language and group disparity with bootstrap CIs for one model (rule `disparity`)."""

from quant_fairness.disparity import COLUMNS, disparity_rows
from quant_fairness.noise_floor import read_noise_floor
from quant_fairness.paired import load_paired
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
scores = load_paired(snakemake.input.baseline, snakemake.input.strategies)
rows = disparity_rows(
    snakemake.wildcards.model,
    scores,
    groups=snakemake.params.groups,
    reference=snakemake.params.reference,
    noise_floor=read_noise_floor(snakemake.input.noise_floor),
    resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
log.info("%d metric rows for %d strategies", len(rows), len(scores.nll))
