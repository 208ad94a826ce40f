"""Snakemake script: the versioned report, HTML and PDF, from the run's result files, and its
summary for the next version and the index (rule `report`)."""

from datetime import UTC, datetime
from pathlib import Path

from quant_fairness.report.content import report_context
from quant_fairness.report.history import changes, previous_summary, version_summary, write_summary
from quant_fairness.report.render import fill_chapters, render
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0])
inputs = {name: snakemake.input[name] for name in snakemake.input.keys()}
context = report_context(inputs, snakemake.params.config, snakemake.params.version, snakemake.params.benchmarks)
summary = version_summary(context, snakemake.params.config, datetime.now(UTC))
context["changes"] = changes(previous_summary(Path(snakemake.output.html).parents[1], context["version"]), summary)
source = fill_chapters(snakemake.params.template, context, snakemake.input.figures, snakemake.output.source)
log.info("rendered by %s", render(source, snakemake.output.html, snakemake.output.pdf))
write_summary(summary, snakemake.output.summary)
