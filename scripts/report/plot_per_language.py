"""Snakemake script: a per-language figure of the headline strategies, from the disparity tables
(rules `figure_delta_bpb`: ΔBPB; `figure_divergence`: KL divergence and top-1 agreement)."""

from quant_fairness.report.figures import PER_LANGUAGE_FIGURES
from quant_fairness.runlog import start_job
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
tables = zip(snakemake.params.models, snakemake.input.tables, strict=True)
rows_by_model = {model: read_tsv(path) for model, path in tables}
plot = PER_LANGUAGE_FIGURES[snakemake.params.figure]
plot(rows_by_model, snakemake.params.languages, snakemake.params.strategies, snakemake.output[0])
