"""Snakemake script: the per-language ΔBPB figure (rule `figure_delta_bpb`)."""

from quant_fairness.report.figures import plot_delta_bpb
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
tables = zip(snakemake.params.models, snakemake.input.tables, strict=True)
rows_by_model = {model: read_tsv(path) for model, path in tables}
plot_delta_bpb(rows_by_model, snakemake.params.languages, snakemake.params.strategies, snakemake.output[0])
