"""Snakemake script: paired differences between every two strategies of one model, and their
ranking (rule `compare_strategies`)."""

from quant_fairness.comparison import COMPARISON_COLUMNS, RANKING_COLUMNS, compare_strategies
from quant_fairness.noise_floor import read_noise_floor
from quant_fairness.paired import load_paired
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
comparisons, ranking = compare_strategies(
    snakemake.wildcards.model,
    load_paired(snakemake.input.baseline, snakemake.input.strategies),
    groups=snakemake.params.groups,
    reference=snakemake.params.reference,
    noise_floor=read_noise_floor(snakemake.input.noise_floor),
    resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output.comparisons, comparisons, COMPARISON_COLUMNS)
write_tsv(snakemake.output.ranking, ranking, RANKING_COLUMNS)
log.info("%d paired comparisons", len(comparisons))
