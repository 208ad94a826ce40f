"""Snakemake script: build the parallel corpus and its disjoint splits (rule `corpus`)."""

from quant_fairness.data.sources import build_corpus, write_corpus
from quant_fairness.runlog import start_job

log = start_job(snakemake.log[0])
params = snakemake.params
corpus = build_corpus(params.corpus, params.languages, params.wheel_dir, params.data_dir)
write_corpus(corpus, snakemake.output.splits, snakemake.output.stats, snakemake.output.sources)
log.info("%s corpus: %s", corpus.source, {split: len(ids) for split, ids in corpus.splits.items()})
