"""Snakemake script: one row per language, its name, script, speakers and each model's tokens per
byte (rule `language_table`)."""

from quant_fairness.data.corpus import read_split
from quant_fairness.data.languages import language_columns, language_table
from quant_fairness.data.models import load_tokenizer
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_tsv

log = start_job(snakemake.log[0])
params = snakemake.params
folders = zip(params.models, snakemake.input.models, strict=True)
tokenizers = {model: load_tokenizer(folder) for model, folder in folders}
rows = language_table(read_split(snakemake.input.test, params.languages), params.languages, tokenizers)
write_tsv(snakemake.output[0], rows, language_columns(params.models))
log.info("%d languages in %s scripts", len(rows), sorted({row["script"] for row in rows}))
