"""Score text segments: summed negative log-likelihood per segment, in nats.

Each segment is scored on its own with the tokenizer's BOS (EOS for GPT-2-style
tokenizers that have no separate BOS) prepended, so every token of the text is
predicted. Segments are sorted by length and packed into batches of at most
`batch_tokens` padded positions; the LM head runs only on real positions, which
matters for 256k-token vocabularies.

    model, tokenizer = load_model("resources/models/smollm2-135m")
    ids = tokenize_segments(tokenizer, ["In the beginning ...", ...])
    nll = score_segments(model, ids)        # list of float, nats per segment
"""

import time

import torch

from quant_fairness.errors import QuantFairnessError
from quant_fairness.models import load_model
from quant_fairness.quantize import apply_strategy

HEAD_ROWS = 2048


def start_token_id(tokenizer):
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return token_id
    raise QuantFairnessError(f"tokenizer {type(tokenizer).__name__} has neither a BOS nor an EOS token")


def tokenize_segments(tokenizer, texts):
    """Token ids per text, each starting with the BOS/EOS token."""
    start = start_token_id(tokenizer)
    encoded = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    return [[start, *ids] for ids in encoded]


def length_sorted_batches(lengths, batch_tokens):
    """Indices grouped longest-first so that padded positions per batch stay below `batch_tokens`."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches, current = [], []
    for index in order:
        longest = lengths[current[0]] if current else lengths[index]
        if current and (len(current) + 1) * longest > batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def _token_nll(model, hidden, targets):
    """−log p(target) for each row of hidden states, through the LM head in row chunks."""
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    pieces = []
    for start in range(0, hidden.shape[0], HEAD_ROWS):
        logits = head(hidden[start : start + HEAD_ROWS]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        chunk_targets = targets[start : start + HEAD_ROWS]
        picked = logits.gather(1, chunk_targets[:, None]).squeeze(1)
        pieces.append(torch.logsumexp(logits, dim=-1) - picked)
    return torch.cat(pieces)


def padded_batches(token_ids, batch_tokens):
    """(indices, input_ids, attention_mask) per length-sorted batch, right-padded with zeros."""
    lengths = [len(ids) for ids in token_ids]
    for batch in length_sorted_batches(lengths, batch_tokens):
        width = lengths[batch[0]]
        input_ids = torch.zeros((len(batch), width), dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, index in enumerate(batch):
            input_ids[row, : lengths[index]] = torch.tensor(token_ids[index])
            attention[row, : lengths[index]] = 1
        yield batch, input_ids, attention


def batch_nll(model, input_ids, attention):
    """(NLL per predicted token, row of each token) for one padded batch."""
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
    predicts = attention[:, 1:].bool()
    nll = _token_nll(model, hidden[:, :-1][predicts], input_ids[:, 1:][predicts])
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(predicts)[predicts]
    return nll, rows


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


def calibration_batches(tokenizer, rows, batch_tokens):
    """Padded batches of calibration rows, for quantizers that read activations."""
    token_ids = tokenize_segments(tokenizer, [row["text"] for row in rows])
    return [(input_ids, attention) for _, input_ids, attention in padded_batches(token_ids, batch_tokens)]


class TokenizedSplit:
    """Split rows ({id, lang, text}) tokenized once, for scoring again and again as a model's
    weights change (layer-sweep candidates, models rebuilt from artifacts). Batches are
    rebuilt identically on every call, which the sweep's cached hidden states rely on.

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

    def score(self, model):
        nll = score_segments(model, self.token_ids, self.batch_tokens)
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


def score_split(
    model_dir,
    rows,
    strategy=None,
    dtype="float32",
    batch_tokens=1024,
    salience_indices=None,
    calibration_rows=None,
    device="cpu",
):
    """Score split rows ({id, lang, text}) with the model on `device`, quantized by `strategy` if given.

    Returns (score rows {lang, id, tokens, bytes, nll}, storage accounting or None,
    seconds spent quantizing).
    """
    model, tokenizer = load_model(model_dir, dtype, device)
    split = TokenizedSplit(model, tokenizer, rows, batch_tokens)
    storage, quantize_seconds = None, 0.0
    if strategy is not None:
        started = time.perf_counter()
        batches = calibration_batches(tokenizer, calibration_rows, batch_tokens) if calibration_rows else None
        storage = apply_strategy(model, strategy, salience_indices, batches)
        quantize_seconds = time.perf_counter() - started
    return split.score(model), storage, quantize_seconds
