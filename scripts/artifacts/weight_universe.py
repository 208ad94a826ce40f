"""Snakemake script: one model's weight universe and where each strategy's protected
weights fall (rule `weight_universe`)."""

from pathlib import Path

from safetensors.torch import load_file

from quant_fairness.artifacts.universe import COMPONENT_COLUMNS, PROTECTED_COLUMNS, protected_rows, universe_rows
from quant_fairness.data.models import load_causal_lm
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
model_name = snakemake.wildcards.model
model = load_causal_lm(snakemake.input.model)
strategies = [parse_strategy(name, spec) for name, spec in snakemake.params.specs.items()]
salience = {Path(path).stem: load_file(path) for path in snakemake.input.masks}
components = universe_rows(model_name, model)
protected = protected_rows(model_name, model, strategies, salience)
write_tsv(snakemake.output.components, components, COMPONENT_COLUMNS)
write_tsv(snakemake.output.protected, protected, PROTECTED_COLUMNS)
log.info("%s: %d component cells; %d protected cells", model_name, len(components), len(protected))
