"""Snakemake script: the HTML report from the run's result tables (rule `report`)."""

from pathlib import Path

from quant_fairness.report import render_report, report_context
from quant_fairness.runlog import start_job

start_job(snakemake.log[0])
context = report_context(
    snakemake.input.disparity,
    snakemake.input.storage,
    snakemake.input.stats,
    snakemake.input.models,
    snakemake.params.config,
    {
        "claims": snakemake.input.claims,
        "ranking": snakemake.input.ranking,
        "correlation": snakemake.input.correlation,
        "noise_floor": snakemake.input.noise_floor,
        "sweep_steps": snakemake.input.sweep_steps,
        "sweep_test": snakemake.input.sweep_test,
        "sizes": snakemake.input.sizes,
        "effects": snakemake.input.effects,
    },
)
render_report(snakemake.input.template, context, Path(snakemake.input.figure).parent, snakemake.output[0])
