"""Snakemake script: ΔBPB per language against its resource level and baseline BPB
(rule `figure_resource_scatter`)."""

from quant_fairness.report.figures import plot_resource_scatter
from quant_fairness.runlog import start_job
from quant_fairness.stats.correlation import resource_scales
from quant_fairness.tables import read_tsv

start_job(snakemake.log[0])
tables = zip(snakemake.params.models, snakemake.input.tables, snakemake.input.correlation, strict=True)
rows = {
    model: (read_tsv(disparity), read_tsv(correlation), snakemake.params.strategies[model])
    for model, disparity, correlation in tables
}
scales = resource_scales(snakemake.params.resource_levels, read_tsv(snakemake.input.languages))
plot_resource_scatter(rows, scales, snakemake.output[0])
