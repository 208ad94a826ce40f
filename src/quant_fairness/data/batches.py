"""Token ids and padded batches, and the per-token NLL of one batch: the forward pass that
scoring (quant_fairness.evaluate), calibration and salience (quant_fairness.quantize) share.

Each segment starts with the tokenizer's BOS (EOS for GPT-2-style tokenizers that have no
separate BOS), so every token of the text is predicted. Segments are sorted by length and
packed into batches of at most `batch_tokens` padded positions; the LM head runs only on
real positions, which matters for 256k-token vocabularies.

    ids = tokenize_segments(tokenizer, ["In the beginning ...", ...])
    for indices, input_ids, attention in padded_batches(ids, batch_tokens=1024):
        nll, rows = batch_nll(model, input_ids, attention)   # per predicted token, and its row
"""

import torch

from quant_fairness.errors import QuantFairnessError

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


def input_batches(token_ids, batch_tokens):
    """[(input_ids, attention_mask)] of token ids, for passes that read activations (calibration, salience)."""
    return [(input_ids, attention) for _, input_ids, attention in padded_batches(token_ids, batch_tokens)]


def calibration_batches(tokenizer, rows, batch_tokens):
    """Padded batches of calibration rows, for quantizers that read activations."""
    return input_batches(tokenize_segments(tokenizer, [row["text"] for row in rows]), batch_tokens)


def head_logits(model, hidden):
    """(first row, float32 logits) of the rows of `hidden` through the LM head, HEAD_ROWS rows at a
    time, softcapped where the model does: the full vocabulary's logits never exist for a whole
    batch at once."""
    head = model.get_output_embeddings()
    softcap = getattr(model.config, "final_logit_softcapping", None)
    for start in range(0, hidden.shape[0], HEAD_ROWS):
        logits = head(hidden[start : start + HEAD_ROWS]).float()
        if softcap:
            logits = torch.tanh(logits / softcap) * softcap
        yield start, logits


def token_nll(logits, targets, lse=None):
    """−log p(target) of each row of logits; `lse`, their logsumexp where already computed."""
    picked = logits.gather(1, targets[:, None]).squeeze(1)
    return (torch.logsumexp(logits, dim=-1) if lse is None else lse) - picked


def predicted_positions(model, input_ids, attention):
    """(final hidden states, target token, row) of every predicted position of a padded batch:
    each real token after the first, row-major, so a segment's positions stay in order."""
    hidden = model.base_model(input_ids=input_ids, attention_mask=attention).last_hidden_state
    predicts = attention[:, 1:].bool()
    rows = torch.arange(input_ids.shape[0], device=input_ids.device)[:, None].expand_as(predicts)[predicts]
    return hidden[:, :-1][predicts], input_ids[:, 1:][predicts], rows


def batch_nll(model, input_ids, attention):
    """(NLL per predicted token, row of each token) for one padded batch."""
    hidden, targets, rows = predicted_positions(model, input_ids, attention)
    nll = [token_nll(logits, targets[start : start + logits.shape[0]]) for start, logits in head_logits(model, hidden)]
    return torch.cat(nll), rows
