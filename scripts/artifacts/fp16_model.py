"""Snakemake script: the model's weights in FP16, as one safetensors file (rule `fp16_model`),
for the artifact-size table."""

from safetensors.torch import save_file

from quant_fairness.atomic import atomic_path
from quant_fairness.data.models import load_causal_lm
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0], snakemake.threads)
model = load_causal_lm(snakemake.input.model)
weights = {name: param.detach().half().contiguous() for name, param in model.named_parameters()}
with atomic_path(snakemake.output[0], suffix=".safetensors") as tmp:
    save_file(weights, str(tmp), metadata={"format": "pt"})
log.info("%s: %d FP16 tensors", snakemake.wildcards.model, len(weights))
