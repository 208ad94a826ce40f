"""Snakemake script: robust disparity per protected block (rule `figure_layer_sweep`)."""

from quant_fairness.report.figures import plot_layer_sweep
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
sweeps = {
    model: (read_tsv(single), read_tsv(steps))
    for model, single, steps in zip(snakemake.params.models, snakemake.input.single, snakemake.input.steps, strict=True)
}
plot_layer_sweep(sweeps, snakemake.output[0])
