"""Snakemake script: the layer sweep of one model (rule `layer_sweep`): blocks ranked and
chosen on the selection split, the chosen set re-measured on the test split."""

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.sweep import sweep, sweep_tables
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.runlog import start_job
from quant_fairness.stats.noise_floor import read_noise_floor
from quant_fairness.tables import read_scores, write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
settings, languages, stats = snakemake.params.sweep, snakemake.params.languages, snakemake.params.stats
selection = first_segments(read_split(snakemake.input.selection, languages), languages, settings["segments"])
evaluation = snakemake.params.evaluation
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
result = sweep(
    model,
    tokenizer,
    selection,
    read_split(snakemake.input.test, languages),
    parse_strategy(settings["strategy"], snakemake.params.spec),
    snakemake.params.groups,
    snakemake.params.reference,
    max_layers=settings["max_layers"],
    candidates=settings.get("candidates"),
    noise_floor=read_noise_floor(snakemake.input.noise_floor),
    resamples=stats["bootstrap_resamples"],
    seed=stats["seed"],
    level=stats["ci_level"],
    batch_tokens=evaluation["batch_tokens"],
    model_name=snakemake.wildcards.model,
    baseline_test=read_scores(snakemake.input.baseline),
    unprotected_test=read_scores(snakemake.input.unprotected),
)
for name, (rows, columns) in sweep_tables(snakemake.wildcards.model, result).items():
    write_tsv(snakemake.output[name], rows, columns)
log.info("%s: chose blocks %s", snakemake.wildcards.model, ",".join(map(str, result.chosen)))
