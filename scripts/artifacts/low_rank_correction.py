"""Snakemake script: a rank-r correction of the packed INT4 model's error, written as its
factors, and the corrected model scored on the test split (rule `low_rank_correction`)."""

from quant_fairness.artifacts.low_rank import corrected_model, write_correction
from quant_fairness.data.corpus import read_split
from quant_fairness.data.models import load_causal_lm
from quant_fairness.evaluate.divergence import Reference, ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
rows = read_split(snakemake.input.split, snakemake.params.languages)
# Scored as the score tables it is compared with: same dtype, device and batches.
evaluation = snakemake.params.evaluation
# The rebuilt model's KL divergence from the unquantized reference, whose head it may not share.
reference, head = (
    Reference.read(snakemake.input.reference),
    ReferenceHead.of(load_causal_lm(snakemake.input.model, evaluation["dtype"])),
)
rank = int(snakemake.wildcards.rank)
model, tokenizer, correction = corrected_model(
    snakemake.input.model, snakemake.input.base, rank, evaluation["dtype"], evaluation["device"]
)
write_correction(snakemake.output.correction, correction, rank)
label = f"model {snakemake.wildcards.model!r}, artifact {snakemake.params.label!r}"
scores = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"]).score(model, label, reference, head)
write_scores(snakemake.output.scores, snakemake.wildcards.model, snakemake.params.label, scores)
log.info(
    "%s/%s: %d segments scored from the artifact files", snakemake.wildcards.model, snakemake.params.label, len(scores)
)
