"""Snakemake script: score a model rebuilt from artifact files on the test split (rules
`score_fair_artifact`: packed INT4 + fairness patch; `low_rank_correction`: packed INT4 +
a rank-r correction of its error, whose factors it also writes)."""

import tempfile

from safetensors.torch import save_file

from quant_fairness.atomic import atomic_path
from quant_fairness.corpus import read_split
from quant_fairness.evaluate import TokenizedSplit
from quant_fairness.fairness_patch import apply_patch, load_weights
from quant_fairness.low_rank import corrected_weights, low_rank_correction
from quant_fairness.models import load_model
from quant_fairness.packing import PACKED_FILE, quantized_names, unpack_file
from quant_fairness.runlog import start_job
from quant_fairness.tables import SCORE_COLUMNS, write_tsv

log = start_job(snakemake.log[0], snakemake.threads)
model_name = snakemake.wildcards.model
rows = read_split(snakemake.input.split, snakemake.params.languages)
# Scored as the score tables these are compared with: same dtype, device and batches.
evaluation = snakemake.params.evaluation
with tempfile.TemporaryDirectory() as scratch:
    if "patch" in snakemake.input.keys():
        fair = apply_patch(snakemake.input.base, snakemake.input.patch, f"{scratch}/fair")
        model, tokenizer = load_model(fair, evaluation["dtype"], evaluation["device"])
    else:
        model, tokenizer = load_model(snakemake.input.model, evaluation["dtype"], evaluation["device"])
        # The factors are computed on the CPU, as the packed file is read, on any device.
        original = {name: param.detach().cpu() for name, param in model.named_parameters()}
        base_file = f"{snakemake.input.base}/{PACKED_FILE}"
        quantized = unpack_file(base_file)
        rank = int(snakemake.wildcards.rank)
        correction = low_rank_correction(original, quantized, quantized_names(base_file), rank)
        with atomic_path(snakemake.output.correction, suffix=".safetensors") as tmp:
            # One metadata key: safetensors writes several in a random order (bytes differ per run).
            save_file(correction, str(tmp), metadata={"rank": str(rank)})
        load_weights(model, corrected_weights(quantized, correction), base_file)
    scores = TokenizedSplit(model, tokenizer, rows, evaluation["batch_tokens"]).score(model)
label = snakemake.params.label
write_tsv(snakemake.output.scores, [{"model": model_name, "strategy": label, **row} for row in scores], SCORE_COLUMNS)
log.info("%s/%s: %d segments scored from the artifact files", model_name, label, len(scores))
