"""Snakemake script: bits per weight vs robust disparity, with the frontier (rule `figure_pareto`)."""

import json
from pathlib import Path

from quant_fairness.report.figures import plot_pareto
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
costs = {
    model: ({}, read_tsv(path)) for model, path in zip(snakemake.params.models, snakemake.input.tables, strict=True)
}
for path in snakemake.input.storage:
    entry = json.loads(Path(path).read_text())
    costs[entry["model"]][0][entry["strategy"]] = entry["bits_per_weight"]
plot_pareto(costs, snakemake.output[0])
