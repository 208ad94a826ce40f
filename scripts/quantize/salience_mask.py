"""Snakemake script: the salience-selected protection mask of one model and strategy,
measured on the calibration split (rule `salience_mask`)."""

import json

from safetensors.torch import save_file

from quant_fairness.atomic import atomic_path
from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.salience import salience_mask
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job
from quant_fairness.tables import SALIENCE_COLUMNS, write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
strategy = parse_strategy(snakemake.wildcards.strategy, snakemake.params.spec)
if not strategy.needs_salience:
    raise QuantFairnessError(f"strategy {strategy.name!r} does not protect by salience; it has no salience mask")
spec = strategy.protection.salience
groups = snakemake.params.groups
languages = sorted({*groups["low"], *groups["high"]})
evaluation = snakemake.params.evaluation
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
rows = read_split(snakemake.input.split, languages)
indices, shares = salience_mask(model, tokenizer, rows, strategy, groups, evaluation["batch_tokens"])
log.info(
    "%s/%s: %s salience on %s languages, %d entries protected",
    snakemake.wildcards.model,
    strategy.name,
    spec.method,
    spec.languages,
    sum(int(index.numel()) for index in indices.values()),
)
with atomic_path(snakemake.output.mask) as path:
    # One metadata key: safetensors writes the metadata map in a different order each process.
    salience = json.dumps({"method": spec.method, "languages": spec.languages}, sort_keys=True)
    save_file(indices, str(path), metadata={"salience": salience})
write_tsv(snakemake.output.shares, [{"model": snakemake.wildcards.model, **row} for row in shares], SALIENCE_COLUMNS)
