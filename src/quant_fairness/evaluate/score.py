"""Score text segments: summed negative log-likelihood per segment, in nats.

Each segment is scored on its own, whole, after one start token (quant_fairness.data.batches),
in length-sorted batches. Scoring never changes the model: to score a quantized model, quantize
it first (quant_fairness.quantize.apply_strategy) and score the same TokenizedSplit again.

    model, tokenizer = load_model("resources/models/smollm2-135m")
    split = TokenizedSplit(model, tokenizer, rows)   # rows: {id, lang, text}
    split.score(model)                               # [{lang, id, tokens, bytes, nll}]
    nll = score_segments(model, token_ids)           # list of float, nats per segment
"""

import copy
import math

import torch

from quant_fairness.data.batches import batch_nll, padded_batches, tokenize_segments
from quant_fairness.data.models import DTYPES
from quant_fairness.errors import QuantFairnessError


@torch.no_grad()
def score_segments(model, token_ids, batch_tokens=1024):
    """Summed NLL (nats, float64) per segment, in input order."""
    if min((len(ids) for ids in token_ids), default=2) < 2:
        raise QuantFairnessError("every segment needs at least one token after BOS (empty text?)")
    device = next(model.parameters()).device
    totals = torch.zeros(len(token_ids), dtype=torch.float64)
    for batch, input_ids, attention in padded_batches(token_ids, batch_tokens):
        nll, rows = batch_nll(model, input_ids.to(device), attention.to(device))
        totals.index_add_(0, torch.tensor(batch)[rows.cpu()], nll.double().cpu())
    return totals.tolist()


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

    def score(self, model, label="model"):
        """Score rows of every segment; a NaN or infinite NLL (a broken quantizer, an overflow in
        float16 or bfloat16) stops with one line naming `label` and the segment."""
        nll = score_segments(model, self.token_ids, self.batch_tokens)
        for row, value in zip(self.rows, nll, strict=True):
            if not math.isfinite(value):
                raise QuantFairnessError(
                    f"{label}: the NLL of segment {row['lang']}/{row['id']} is {value} (a broken quantizer, or an "
                    "overflow in float16/bfloat16 numerics); no scores are written"
                )
        return [
            {
                "lang": row["lang"],
                "id": row["id"],
                "tokens": len(ids) - 1,
                "bytes": len(row["text"].encode("utf-8")),
                "nll": value,
            }
            for row, ids, value in zip(self.rows, self.token_ids, nll, strict=True)
        ]


def numerics_pair(model):
    """(this model's dtype, the other dtype of the noise floor): float32 against bfloat16."""
    dtype = str(model.dtype).removeprefix("torch.")
    return dtype, "float32" if dtype == "bfloat16" else "bfloat16"


def rescore_in(model, split, dtype):
    """Score rows of `split` by a copy of `model` in `dtype`: the same weights in other numerics,
    whose shift is the noise floor (quant_fairness.stats.noise_floor)."""
    return split.score(copy.deepcopy(model).to(DTYPES[dtype]), f"the model in {dtype}")
