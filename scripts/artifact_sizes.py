"""Snakemake script: one model's artifact-size table from the real files, and the measured
effect of each artifact rebuilt from its files (rule `artifact_sizes`)."""

from pathlib import Path

from quant_fairness.artifacts import EFFECT_COLUMNS, SIZE_COLUMNS, effect_rows, size_rows
from quant_fairness.fairness_patch import PATCH_FILE
from quant_fairness.noise_floor import read_noise_floor
from quant_fairness.packing import PACKED_FILE
from quant_fairness.paired import paired_scores
from quant_fairness.provenance import read_provenance
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_scores, write_tsv

log = start_job(snakemake.log[0])
model_name, settings, files = snakemake.wildcards.model, snakemake.params.artifacts, snakemake.input
int4, int4_file = settings["int4"], f"{files.int4}/{PACKED_FILE}"
artifacts = {
    "fp32": ("", sorted(str(path) for path in Path(files.model).glob("*.safetensors"))),
    "fp16": ("", [files.fp16]),
    "int8": (settings["int8"], [f"{files.int8}/{PACKED_FILE}"]),
    "int4": (int4, [int4_file]),
}
for name, patch in zip(settings["fair"], files.patches, strict=True):
    artifacts[f"patch ({name})"] = (name, [f"{patch}/{PATCH_FILE}"])
    artifacts[f"fair int4 ({name})"] = (name, [int4_file, f"{patch}/{PATCH_FILE}"])
for rank, correction in zip(settings["low_rank_ranks"], files.corrections, strict=True):
    artifacts[f"low-rank r{rank}"] = (int4, [correction])
    artifacts[f"int4 + low-rank r{rank}"] = (int4, [int4_file, correction])
parameters = read_provenance(files.model)["parameters"]
write_tsv(snakemake.output.sizes, size_rows(model_name, parameters, artifacts), SIZE_COLUMNS)

scored = {"int4 (simulated)": read_scores(files.int4_scores)}
for path in files.simulated_scores:
    scored[f"{Path(path).stem} (simulated)"] = read_scores(path)
for path in [*files.fair_scores, *files.low_rank_scores]:
    rows = read_scores(path)
    scored[rows[0]["strategy"]] = rows
scores = paired_scores(read_scores(files.baseline), scored)
stats = snakemake.params.stats
effects = effect_rows(
    model_name,
    scores,
    snakemake.params.groups,
    snakemake.params.reference,
    read_noise_floor(files.noise_floor),
    stats["bootstrap_resamples"],
    stats["seed"],
    stats["ci_level"],
)
write_tsv(snakemake.output.effects, effects, EFFECT_COLUMNS)
log.info("%s: %d artifacts sized, %d scored from their files", model_name, len(artifacts), len(scored))
