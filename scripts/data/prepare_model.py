"""Snakemake script: resolve one configured model to a local safetensors folder (rule `model`)."""

from quant_fairness.data.models import prepare_model
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0], snakemake.threads)
provenance = prepare_model(
    snakemake.wildcards.model, snakemake.params.source, snakemake.output[0], snakemake.params.wheel_dir
)
log.info("prepared %s: %s, %d parameters", provenance["name"], provenance["architecture"], provenance["parameters"])
