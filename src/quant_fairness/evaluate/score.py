"""Score text segments: summed negative log-likelihood per segment, in nats, and how far the
next-token distributions moved from the unquantized reference (quant_fairness.evaluate.divergence).

Each segment is scored on its own, whole, after one start token (quant_fairness.data.batches),
in length-sorted batches. Scoring never changes the model: to score a quantized model, quantize
it first (quant_fairness.quantize.apply_strategy) and score the same TokenizedSplit again.

    model, tokenizer = load_model("resources/models/smollm2-135m")
    split = TokenizedSplit(model, tokenizer, rows)   # rows: {id, lang, text}
    rows, reference = split.record(model)            # the unquantized model: scores and its Reference
    head = ReferenceHead.of(model)                   # before quantizing: the reference's LM head
    apply_strategy(model, strategy)
    split.score(model, reference=reference, head=head)
                                                     # [{lang, id, tokens, bytes, nll, kl_divergence, top1_agreement}]
    nll = score_segments(model, token_ids)           # list of float, nats per segment
"""

import copy
import math

import torch

from quant_fairness.data.batches import head_logits, padded_batches, predicted_positions, token_nll, tokenize_segments
from quant_fairness.data.models import DTYPES
from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.divergence import Comparison, Recording, segment_key


@torch.no_grad()
def score_segments(model, token_ids, batch_tokens=1024, measure=None):
    """Summed NLL (nats, float64) per segment, in input order. `measure` (a Comparison or a
    Recording) also sees every chunk of positions; its sums per segment are returned beside:
    ({"nll": [...], name: [...]}) instead of the NLL list."""
    if min((len(ids) for ids in token_ids), default=2) < 2:
        raise QuantFairnessError("every segment needs at least one token after BOS (empty text?)")
    device = next(model.parameters()).device
    totals = {"nll": torch.zeros(len(token_ids), dtype=torch.float64)}
    for batch, input_ids, attention in padded_batches(token_ids, batch_tokens):
        hidden, targets, rows = predicted_positions(model, input_ids.to(device), attention.to(device))
        segments = torch.tensor(batch)[rows.cpu()]
        sums = {"nll": []}
        if measure is not None:
            measure.start_batch(batch, segments)
        for start, logits in head_logits(model, hidden):
            stop = start + logits.shape[0]
            # One logsumexp over the vocabulary serves both the NLL and the divergence: a second pass cost
            # 5% of scoring smollm2.
            lse = torch.logsumexp(logits, dim=-1)
            sums["nll"].append(token_nll(logits, targets[start:stop], lse))
            if measure is not None:
                for name, values in measure.chunk(hidden[start:stop], logits, lse, start).items():
                    sums.setdefault(name, []).append(values)
        for name, values in sums.items():
            totals.setdefault(name, torch.zeros(len(token_ids), dtype=torch.float64))
            totals[name].index_add_(0, segments, torch.cat(values).double().cpu())
    if measure is None:
        return totals["nll"].tolist()
    return {name: values.tolist() for name, values in totals.items()}


def context_length(model):
    config = model.config.get_text_config()
    for key in ("max_position_embeddings", "n_positions", "seq_length"):
        if getattr(config, key, None):
            return int(getattr(config, key))
    return None


def check_context(model, rows, token_ids):
    """Segments are scored whole, never windowed: one longer than the context is refused."""
    limit = context_length(model)
    for row, ids in zip(rows, token_ids, strict=True):
        if limit is not None and len(ids) > limit:
            raise QuantFairnessError(
                f"segment {row['lang']}/{row['id']} has {len(ids)} tokens with BOS, more than the model's "
                f"context of {limit}; split it into shorter segments"
            )


class TokenizedSplit:
    """Split rows ({id, lang, text}) tokenized once, for scoring again and again as a model's
    weights change (quantized strategies, layer-sweep candidates, models rebuilt from
    artifacts). Batches are rebuilt identically on every call, which the sweep's cached
    hidden states rely on.

        split = TokenizedSplit(model, tokenizer, rows)
        split.score(model)      # [{lang, id, tokens, bytes, nll}], the score tables' rows
    """

    def __init__(self, model, tokenizer, rows, batch_tokens=1024):
        if not rows:
            raise QuantFairnessError("no segments to score: the split is empty for the chosen languages")
        self.rows = rows
        self.batch_tokens = batch_tokens
        self.token_ids = tokenize_segments(tokenizer, [row["text"] for row in rows])
        check_context(model, rows, self.token_ids)

    def score(self, model, label="model", reference=None, head=None):
        """Score rows of every segment; with `reference` (a Reference recorded on these rows by the
        unquantized model) also each segment's summed KL divergence from it and the number of
        positions whose most probable token is the reference's. `head`: the reference's
        ReferenceHead, used where `model`'s own head differs from it. A NaN or infinite NLL (a
        broken quantizer, an overflow in float16 or bfloat16) stops with one line naming
        `label` and the segment."""
        keys, positions = [segment_key(row) for row in self.rows], [len(ids) - 1 for ids in self.token_ids]
        measure = None if reference is None else Comparison(reference, keys, positions, model, head)
        return self._rows(model, label, measure)

    def record(self, model, label="model"):
        """(score rows, Reference) of the unquantized model: what every later comparison needs."""
        recording = Recording(model, [segment_key(row) for row in self.rows])
        return self._rows(model, label, recording), recording.reference()

    def _rows(self, model, label, measure):
        sums = score_segments(model, self.token_ids, self.batch_tokens, measure)
        sums = sums if isinstance(sums, dict) else {"nll": sums}
        for k, value in enumerate(sums["nll"]):
            if not math.isfinite(value):
                row = self.rows[k]
                raise QuantFairnessError(
                    f"{label}: the NLL of segment {row['lang']}/{row['id']} is {value} (a broken quantizer, or an "
                    "overflow in float16/bfloat16 numerics); no scores are written"
                )
        rows = []
        for k, (row, ids) in enumerate(zip(self.rows, self.token_ids, strict=True)):
            scored = {"lang": row["lang"], "id": row["id"], "tokens": len(ids) - 1}
            scored |= {"bytes": len(row["text"].encode("utf-8")), "nll": sums["nll"][k]}
            if "kl_divergence" in sums:
                scored["kl_divergence"] = sums["kl_divergence"][k]
                scored["top1_agreement"] = int(sums["top1_agreement"][k])
            rows.append(scored)
        return rows


def numerics_pair(model):
    """(this model's dtype, the other dtype of the noise floor): float32 against bfloat16."""
    dtype = str(model.dtype).removeprefix("torch.")
    return dtype, "float32" if dtype == "bfloat16" else "bfloat16"


def rescore_in(model, split, dtype):
    """Score rows of `split` by a copy of `model` in `dtype`: the same weights in other numerics,
    whose shift is the noise floor (quant_fairness.stats.noise_floor)."""
    return split.score(copy.deepcopy(model).to(DTYPES[dtype]), f"the model in {dtype}")
