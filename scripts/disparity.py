"""Snakemake script: per-language and group disparity with bootstrap CIs for one model (rule `disparity`)."""

from quant_fairness.disparity import COLUMNS, disparity_rows
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_scores, write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
strategies = {path.split("/")[-1].removesuffix(".tsv"): read_scores(path) for path in snakemake.input.strategies}
rows = disparity_rows(
    snakemake.wildcards.model,
    read_scores(snakemake.input.baseline),
    strategies,
    groups=snakemake.params.groups,
    reference=snakemake.params.reference,
    noise_floor=stats["noise_floor_bpb"],
    resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
log.info("%d metric rows for %d strategies", len(rows), len(strategies))
