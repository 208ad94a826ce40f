"""Snakemake script: the per-language ΔBPB figure (rule `figure_delta_bpb`)."""

from quant_fairness.report.figures import plot_delta_bpb
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
rows_by_model = {}
for path in snakemake.input.tables:
    rows = read_tsv(path)
    rows_by_model[rows[0]["model"]] = rows
plot_delta_bpb(rows_by_model, snakemake.params.languages, snakemake.params.strategies, snakemake.output[0])
