"""Snakemake script: the unquantized model's first test segments rescored in a second dtype,
with their KL divergence from the reference (rule `baseline_numerics`: the noise floor)."""

from quant_fairness.data.corpus import first_segments, read_split
from quant_fairness.data.models import load_causal_lm, load_model
from quant_fairness.evaluate.divergence import Reference, ReferenceHead
from quant_fairness.evaluate.score import TokenizedSplit
from quant_fairness.runlog import start_job
from quant_fairness.tables import write_scores

log = start_job(snakemake.log[0], snakemake.threads)
model_name, languages, evaluation = snakemake.wildcards.model, snakemake.params.languages, snakemake.params.evaluation
rows = first_segments(read_split(snakemake.input.split, languages), languages, snakemake.params.segments)
# The reference's head in the reference's own dtype, to rebuild its distributions.
head = ReferenceHead.of(load_causal_lm(snakemake.input.model, snakemake.params.reference_dtype))
model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
split = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"])
label = f"model {model_name!r} in {evaluation['dtype']}"
scores = split.score(model, label, Reference.read(snakemake.input.reference), head)
write_scores(snakemake.output.scores, model_name, f"baseline_{evaluation['dtype']}", scores)
log.info("%s: %d segments rescored in %s", model_name, len(scores), evaluation["dtype"])
