"""Snakemake script: per-language and group disparity with bootstrap CIs for one model, the
paired comparisons and ranking of its strategies, and its calibration settings compared
language by language (rule `disparity`)."""

from quant_fairness.runlog import start_job
from quant_fairness.stats.comparison import (
    COMPARISON_COLUMNS,
    LANGUAGE_COLUMNS,
    RANKING_COLUMNS,
    compare_strategies,
    language_differences,
)
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
    "kld_floor": read_noise_floor(snakemake.input.noise_floor, "kld"),
    "resamples": stats["bootstrap_resamples"],
    "seed": stats["seed"],
    "level": stats["ci_level"],
}
rows = disparity_rows(model, scores, **settings)
comparisons, ranking = compare_strategies(model, scores, **settings)
# Each calibration setting against the same quantizer calibrated on every language, per language.
on_text = {key: value for key, value in settings.items() if key != "kld_floor"}
calibration = language_differences(model, scores, snakemake.params.calibration_pairs, **on_text)
write_tsv(snakemake.output.disparity, rows, COLUMNS)
write_tsv(snakemake.output.comparisons, comparisons, COMPARISON_COLUMNS)
write_tsv(snakemake.output.ranking, ranking, RANKING_COLUMNS)
write_tsv(snakemake.output.calibration, calibration, LANGUAGE_COLUMNS)
log.info("%d metric rows and %d paired comparisons for %d strategies", len(rows), len(comparisons), len(scores.nll))
