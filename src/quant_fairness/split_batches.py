"""A split tokenized once and packed into fixed length-sorted batches, scored again and
again as a model's weights change (layer sweep candidates, rebuilt artifacts).

    split = SplitBatches(model, tokenizer, rows, batch_tokens=1024)
    rows = split.score(model)      # [{lang, id, tokens, bytes, nll}], as the score tables hold

Every call sees the same batches in the same order, which the sweep's cached hidden
states rely on.
"""

import torch

from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate import batch_nll, check_context, padded_batches, tokenize_segments


class SplitBatches:
    """Split rows ({id, lang, text}) with their token ids and batches."""

    def __init__(self, model, tokenizer, rows, batch_tokens):
        if not rows:
            raise QuantFairnessError("no segments to score: the split is empty for the chosen languages")
        self.rows = rows
        self.token_ids = tokenize_segments(tokenizer, [row["text"] for row in rows])
        check_context(model, rows, self.token_ids)
        self.batches = list(padded_batches(self.token_ids, batch_tokens))

    @torch.no_grad()
    def score(self, model):
        """Score rows {lang, id, tokens, bytes, nll} of the model as it is now."""
        totals = torch.zeros(len(self.rows), dtype=torch.float64)
        for batch, input_ids, attention in self.batches:
            nll, rows = batch_nll(model, input_ids, attention)
            totals.index_add_(0, torch.tensor(batch)[rows], nll.double())
        return [
            {
                "lang": row["lang"],
                "id": row["id"],
                "tokens": len(ids) - 1,
                "bytes": len(row["text"].encode("utf-8")),
                "nll": value,
            }
            for row, ids, value in zip(self.rows, self.token_ids, totals.tolist(), strict=True)
        ]
