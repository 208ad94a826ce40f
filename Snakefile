"""quant-fairness: how much worse does quantization make a language model for each language?

    snakemake --cores 2                                   # everything -> results/report/<version>/report.{html,pdf}
    snakemake --cores 2 --config models=[smollm2-135m]    # one model
    snakemake --cores 2 results/figures/delta_bpb.png     # one figure (figures_all: every figure)
    snakemake --cores 2 baseline_all                      # one stage
    snakemake --cores 2 statistics_all                    # comparisons, correlation, seed claims
    snakemake --cores 2 universe_all                      # where each model's weights live
    snakemake --cores 2 sweep_all                         # which blocks to protect, per model in sweep.models
    snakemake --cores 2 artifacts_all                     # packed models, patches, their sizes
"""

from pathlib import Path

from quant_fairness.config import check_config
from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.correlation import predictor_names
from quant_fairness.stats.predicates import load_claims


configfile: "config.yaml"


# Relative to the workflow's folder, so the shipped claims are found from any working directory.
CLAIMS_FILE = str(Path(workflow.basedir) / config.get("claims", ""))

try:
    check_config(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
    load_claims(CLAIMS_FILE, config["strategy_specs"], config["languages"], predictor_names(config["resource_levels"]))
except QuantFairnessError as error:
    raise SystemExit(f"quant-fairness: {error}")

wildcard_constraints:
    model="[A-Za-z0-9._-]+",
    strategy="[A-Za-z0-9._-]+",


include: "workflow/rules/common.smk"
# One module per stage, as the library (src/quant_fairness/<stage>/) and scripts/<stage>/.
include: "workflow/rules/data.smk"
include: "workflow/rules/quantize.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/stats.smk"
include: "workflow/rules/artifacts.smk"
include: "workflow/rules/report.smk"


rule all:
    default_target: True
    input:
        f"{REPORT_DIR}/report.html",
        "results/report/index.html",
        "results/corpus/languages.tsv",
        rules.universe_all.input,
        rules.sweep_all.input,
        rules.artifacts_all.input,
