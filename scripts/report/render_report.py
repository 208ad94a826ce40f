"""Snakemake script: the versioned report, HTML and PDF, from the run's result files (rule `report`)."""

from quant_fairness.report.content import report_context
from quant_fairness.report.render import fill_chapters, render
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0])
inputs = {name: snakemake.input[name] for name in snakemake.input.keys()}
context = report_context(inputs, snakemake.params.config, snakemake.params.version, snakemake.params.benchmarks)
source = fill_chapters(snakemake.params.template, context, snakemake.input.figures, snakemake.output.source)
log.info("rendered by %s", render(source, snakemake.output.html, snakemake.output.pdf))
