"""Snakemake script: each calibration setting against calibrating on every language, per language
and group (rule `figure_calibration`)."""

from quant_fairness.report.figures import plot_calibration
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
tables = zip(snakemake.params.models, snakemake.input.tables, strict=True)
plot_calibration({model: read_tsv(path) for model, path in tables}, snakemake.output[0])
