"""Snakemake script: pack one strategy's artifacts from a model (rules `pack_quantized`,
writing the packed quantized model, and `pack_patch`, writing the fairness patch for the packed
model already on disk, whose hash it reads, after checking it is that strategy's, rather than
packing it again)."""

from safetensors.torch import load_file

from quant_fairness.artifacts.fairness_patch import pack
from quant_fairness.artifacts.packing import PACKED_FILE
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0], snakemake.threads)
strategy = parse_strategy(snakemake.wildcards.strategy, snakemake.params.spec)
salience_indices = load_file(snakemake.input.mask) if "mask" in snakemake.input.keys() else None
manifest = pack(
    snakemake.input.model,
    strategy,
    snakemake.wildcards.model,
    snakemake.output.get("patch"),
    snakemake.output.get("quantized"),
    salience_indices,
    f"{snakemake.input.quantized}/{PACKED_FILE}" if "quantized" in snakemake.input.keys() else None,
)
log.info("%s/%s: packed; base SHA-256 %s", snakemake.wildcards.model, strategy.name, manifest["base_sha256"])
