"""Snakemake script: every seed claim checked on this run's data under the seed and the
robust protocol (rule `claims`)."""

from pathlib import Path

from quant_fairness.runlog import start_job
from quant_fairness.stats.claims import COLUMNS, claim_rows, protocols
from quant_fairness.stats.correlation import resource_scales
from quant_fairness.stats.noise_floor import read_noise_floor
from quant_fairness.stats.paired import load_paired
from quant_fairness.stats.predicates import load_claims
from quant_fairness.tables import read_tsv, write_tsv

log = start_job(snakemake.log[0])
stats = snakemake.params.stats
models = snakemake.params.models
model_scores = {
    model: load_paired(baseline, [path for path in snakemake.input.strategies if Path(path).parent.name == model])
    for model, baseline in zip(models, snakemake.input.baselines, strict=True)
}
rows = claim_rows(
    load_claims(snakemake.input.claims),
    model_scores,
    protocols(snakemake.params.groups, stats["seed_protocol"]),
    reference=snakemake.params.reference,
    noise_floor={
        model: read_noise_floor(path) for model, path in zip(models, snakemake.input.noise_floors, strict=True)
    },
    resource_levels=resource_scales(snakemake.params.resource_levels, read_tsv(snakemake.input.languages)),
    resamples=stats["bootstrap_resamples"],
    permutations=stats["permutation_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
)
write_tsv(snakemake.output[0], rows, COLUMNS)
verdicts = [row["verdict"] for row in rows]
log.info("%d claim checks: %s", len(rows), {v: verdicts.count(v) for v in sorted(set(verdicts))})
