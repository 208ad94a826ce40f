"""Snakemake script: results/report/index.html, every report version on disk (rule `report_index`)."""

from pathlib import Path

from quant_fairness.report.history import write_index
from quant_fairness.runlog import start_job

start_job(snakemake.log[0])
write_index(Path(snakemake.output[0]).parent, snakemake.output[0])
