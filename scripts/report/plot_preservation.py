"""Snakemake script: the preservation curve, k% kept vs disparity (rule `figure_preservation`)."""

from quant_fairness.report.figures import plot_preservation
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
points = snakemake.params.points
curves = {model: (points[model], read_tsv(path)) for model, path in zip(points, snakemake.input.tables, strict=True)}
plot_preservation(curves, snakemake.output[0])
