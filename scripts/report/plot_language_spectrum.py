"""Snakemake script: every language's degradation under each model's headline strategy, sorted
and coloured by script (rule `figure_language_spectrum`)."""

from quant_fairness.report.figures import plot_language_spectrum
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
tables = zip(snakemake.params.models, snakemake.input.tables, strict=True)
rows = {model: (read_tsv(disparity), snakemake.params.strategies[model]) for model, disparity in tables}
plot_language_spectrum(rows, read_tsv(snakemake.input.languages), snakemake.output[0])
