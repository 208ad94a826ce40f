"""Snakemake script: rank-r corrections of the packed INT4 model's error, each written as its
factors, and each corrected model scored on the test split (rule `low_rank_correction`)."""

from quant_fairness.artifacts.low_rank import corrected_label, corrected_models, write_correction
from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_model
from quant_fairness.evaluate.divergence import Reference, ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
rows = read_split(snakemake.input.split, snakemake.params.languages)
# Scored as the score tables it is compared with: same dtype, device and batches.
evaluation = snakemake.params.evaluation
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
# Taken before the weights change: the corrected models' KL divergence is from the original head.
reference, head = Reference.read(snakemake.input.reference), ReferenceHead.of(model)
split = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"])
files = zip(snakemake.output.corrections, snakemake.output.scores, strict=True)
for (rank, correction), (correction_file, scores_file) in zip(
    corrected_models(model, snakemake.input.base, snakemake.params.ranks), files, strict=True
):
    write_correction(correction_file, correction, rank)
    name = corrected_label(rank)
    scores = split.score(model, f"model {snakemake.wildcards.model!r}, artifact {name!r}", reference, head)
    write_scores(scores_file, snakemake.wildcards.model, name, scores)
    log.info("%s/%s: %d segments scored from the artifact files", snakemake.wildcards.model, name, len(scores))
