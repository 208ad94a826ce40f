"""Snakemake script: the BPB shift between two numerics of the same model, and the floor (rule `noise_floor`)."""

from quant_fairness.runlog import start_job
from quant_fairness.stats.noise_floor import COLUMNS, floor_of, noise_floor_rows
from quant_fairness.tables import read_scores, write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
rows = noise_floor_rows(
    snakemake.wildcards.model,
    read_scores(snakemake.input.reference),
    read_scores(snakemake.input.other),
    snakemake.params.reference_dtype,
    snakemake.params.other_dtype,
    stats["bootstrap_resamples"],
    stats["seed"],
    stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
log.info("noise floor %.3g bits/byte", floor_of(rows))
