"""Snakemake script: one model's artifact-size table from the real files, and the measured
effect of each artifact rebuilt from its files (rule `artifact_sizes`)."""

from quant_fairness.artifacts.sizes import (
    EFFECT_COLUMNS,
    SIZE_COLUMNS,
    artifact_catalogue,
    artifact_scores,
    effect_rows,
    size_rows,
)
from quant_fairness.provenance import read_provenance
from quant_fairness.runlog import start_job
from quant_fairness.stats.noise_floor import read_noise_floor
from quant_fairness.stats.paired import paired_scores
from quant_fairness.tables import read_scores, write_tsv

log = start_job(snakemake.log[0])
model_name, files, stats = snakemake.wildcards.model, snakemake.input, snakemake.params.stats
catalogue = artifact_catalogue(
    snakemake.params.artifacts, files.model, files.fp16, files.int8, files.int4, files.patches, files.corrections
)
parameters = read_provenance(files.model)["parameters"]
write_tsv(snakemake.output.sizes, size_rows(model_name, parameters, catalogue), SIZE_COLUMNS)
rebuilt = [*files.fair_scores, *files.low_rank_scores]
scored = artifact_scores(files.int4_scores, files.simulated_scores, rebuilt)
effects = effect_rows(
    model_name,
    paired_scores(read_scores(files.baseline), scored),
    snakemake.params.groups,
    snakemake.params.reference,
    read_noise_floor(files.noise_floor),
    stats["bootstrap_resamples"],
    stats["seed"],
    stats["ci_level"],
    read_noise_floor(files.noise_floor, "kld"),
)
write_tsv(snakemake.output.effects, effects, EFFECT_COLUMNS)
log.info("%s: %d artifacts sized, %d scored from their files", model_name, len(catalogue), len(scored))
