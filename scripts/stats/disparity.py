"""Snakemake script: per-language and group disparity with bootstrap CIs for one model, and
the paired comparisons and ranking of its strategies (rule `disparity`)."""

from quant_fairness.runlog import start_job
from quant_fairness.stats.comparison import COMPARISON_COLUMNS, RANKING_COLUMNS, compare_strategies
from quant_fairness.stats.disparity import COLUMNS, disparity_rows
from quant_fairness.stats.noise_floor import read_noise_floor
from quant_fairness.stats.paired import load_paired
from quant_fairness.tables import write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
model = snakemake.wildcards.model
scores = load_paired(snakemake.input.baseline, snakemake.input.strategies)
settings = {
    "groups": snakemake.params.groups,
    "reference": snakemake.params.reference,
    "noise_floor": read_noise_floor(snakemake.input.noise_floor),
    "resamples": stats["bootstrap_resamples"],
    "seed": stats["seed"],
    "level": stats["ci_level"],
}
rows = disparity_rows(model, scores, **settings)
comparisons, ranking = compare_strategies(model, scores, **settings)
write_tsv(snakemake.output.disparity, rows, COLUMNS)
write_tsv(snakemake.output.comparisons, comparisons, COMPARISON_COLUMNS)
write_tsv(snakemake.output.ranking, ranking, RANKING_COLUMNS)
log.info("%d metric rows and %d paired comparisons for %d strategies", len(rows), len(comparisons), len(scores.nll))
