"""How far a model's next-token distributions move from the unquantized reference's: the KL
divergence over the full vocabulary and the top-1 agreement, per predicted position.

The baseline job records, for every predicted position t of a split, what comparing with the
reference needs later, so that no quantize job runs the reference again (a Reference):

    hidden     h_t                       the final hidden state entering the LM head (d floats)
    expected   e_t = Wᵀ p_t              the head's rows weighted by the reference distribution p_t
    bias       s_t = b · p_t             (0 for a head without bias)
    log_norm   c_t = h_t·e_t + s_t − lse_t  = Σ_v p_v ln p_v, the reference's negative entropy
    top1       argmax_v p_t

A model whose LM head is still the reference's (every strategy that leaves the head alone)
and whose logits are linear in the hidden state (no softcapping) has logits W h'_t + b, so
Σ_v p_v ln q_v = h'_t·e_t + s_t − lse'_t and

    KL_t = Σ_v p_v (ln p_v − ln q_v) = c_t − (h'_t·e_t + s_t − lse'_t)

exactly, from its own hidden state and log-normaliser, with nothing of the vocabulary's size
stored. Where the head itself changed (the seed's INT4 quantizes the tied embedding; a
bfloat16 copy of the model) or the logits are softcapped, p_t is rebuilt from h_t and the
reference head in float32, and KL_t is summed over the full vocabulary; a reference that itself
runs in bfloat16 or softcaps records its fields from that same float32 head, so that recording
and comparing compute p_t alike. Either way the divergence is exact
over the full vocabulary, not a top-k bound. It is exact up to float rounding: float32 logits
of magnitude ~10 carry ~1e-6 nats per position (tests/test_divergence.py measures it against a
direct two-model sum), which can also leave an identical distribution a hair below 0, so each
KL_t is taken as max(KL_t, 0).

    rows, reference = split.record(model)                 # quant_fairness.evaluate.score.TokenizedSplit
    reference.write("results/reference/smollm2-135m.safetensors", "smollm2-135m")
    head = ReferenceHead.of(model)                        # before quantizing: the reference's LM head
    apply_strategy(model, strategy)
    split.score(model, reference=Reference.read(path), head=head)   # rows with kl_divergence, top1_agreement
"""

import json
from dataclasses import dataclass

import torch
from safetensors import safe_open
from safetensors.torch import save

from quant_fairness.atomic import atomic_path
from quant_fairness.errors import QuantFairnessError

# Positions compared at once over the full vocabulary (logits of 256 × 262k floats: 268 MB).
DIVERGENCE_ROWS = 256
RECORD_FIELDS = ("hidden", "expected", "bias", "log_norm", "top1")
ROUNDING_SLACK = 1e-4  # nats: how far below 0 float rounding may leave one position's KL
METADATA_KEY = "quant_fairness_reference"


def segment_key(row):
    return f"{row['lang']}/{row['id']}"


@dataclass
class Reference:
    """Per predicted position of each segment, what the reference's distribution was."""

    keys: list  # "lang/id" of each segment, in the order its positions are stored
    offsets: torch.Tensor  # (segments + 1,) int64: segment k's positions are offsets[k]:offsets[k + 1]
    fields: dict  # RECORD_FIELDS: (positions, ...) tensors

    def __post_init__(self):
        self.where = {key: k for k, key in enumerate(self.keys)}

    def check_segments(self, keys, positions):
        """Each segment `keys[i]` has `positions[i]` predicted positions here and in the reference:
        otherwise it was recorded with another tokenizer or text, and positions would not align."""
        missing = [key for key in keys if key not in self.where]
        if missing:
            raise QuantFairnessError(f"the reference has no segment {missing[0]}: score the baseline on the same split")
        for key, count in zip(keys, positions, strict=True):
            recorded = int(self.offsets[self.where[key] + 1] - self.offsets[self.where[key]])
            if recorded != count:
                raise QuantFairnessError(
                    f"segment {key} has {count} predicted positions here but {recorded} in the reference: it was "
                    "recorded with another tokenizer or text"
                )

    def positions(self, keys):
        """The fields for the positions of the segments `keys`, concatenated in that order."""
        pieces = [slice(int(self.offsets[self.where[key]]), int(self.offsets[self.where[key] + 1])) for key in keys]
        return {name: torch.cat([values[piece] for piece in pieces]) for name, values in self.fields.items()}

    def write(self, path, model_name):
        tensors = {"offsets": self.offsets, **{name: values.contiguous() for name, values in self.fields.items()}}
        # One metadata key: safetensors writes several in a random order (other bytes per run).
        metadata = {METADATA_KEY: json.dumps({"model": model_name, "keys": self.keys}, sort_keys=True)}
        with atomic_path(path, suffix=".safetensors") as tmp:
            tmp.write_bytes(save(tensors, metadata=metadata))

    @classmethod
    def read(cls, path):
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            if METADATA_KEY not in header:
                raise QuantFairnessError(f"{path} is not a reference file: expected the output of the baseline rule")
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
        keys = json.loads(header[METADATA_KEY])["keys"]
        return cls(keys, tensors.pop("offsets"), tensors)


class ReferenceHead:
    """The reference's LM head in float32: where a model's head differs from it (or the reference
    runs in another dtype, or its logits are softcapped), the reference distribution is computed
    from the recorded hidden states through this head, both when recording and when comparing."""

    def __init__(self, weight, bias=None, softcap=None):
        self.weight, self.bias, self.softcap = weight, bias, softcap
        self._on_device = {}

    @classmethod
    def of(cls, model):
        head = model.get_output_embeddings()
        bias = getattr(head, "bias", None)
        softcap = getattr(model.config, "final_logit_softcapping", None)
        return cls(
            head.weight.detach().float().cpu().clone(),
            None if bias is None else bias.detach().float().cpu().clone(),
            softcap,
        )

    def is_head_of(self, model):
        """True where `model` computes its logits as W h + b with this very W and b in float32: the
        exact shortcut needs logits linear in the hidden state, in the reference's own numerics."""
        head = model.get_output_embeddings()
        if self.softcap or head.weight.dtype != torch.float32:
            return False
        bias = getattr(head, "bias", None)
        if (bias is None) != (self.bias is None) or (bias is not None and not torch.equal(bias.cpu(), self.bias)):
            return False
        return torch.equal(head.weight.cpu(), self.weight)

    def logits(self, hidden):
        """float32 logits of hidden states through this head (one copy of it kept on their device)."""
        if hidden.device not in self._on_device:
            bias = None if self.bias is None else self.bias.to(hidden.device)
            self._on_device[hidden.device] = (self.weight.to(hidden.device), bias)
        weight, bias = self._on_device[hidden.device]
        logits = hidden.float() @ weight.t()
        if bias is not None:
            logits = logits + bias
        if self.softcap:
            logits = torch.tanh(logits / self.softcap) * self.softcap
        return logits


def record_chunk(hidden, logits, lse, weight, bias):
    """The reference fields of positions whose final hidden states are `hidden`, logits `logits` and
    log-normalisers `lse` (`weight`, `bias`: the head those logits come from)."""
    fields = {name: [] for name in ("hidden", "expected", "bias", "top1")}
    for start in range(0, hidden.shape[0], DIVERGENCE_ROWS):
        part = slice(start, start + DIVERGENCE_ROWS)
        p = torch.softmax(logits[part], dim=-1)
        expected = p @ weight.float()
        spread = (p @ bias.float()).double() if bias is not None else torch.zeros(p.shape[0], dtype=torch.float64)
        fields["hidden"].append(hidden[part].float().cpu())
        fields["expected"].append(expected.cpu())
        fields["bias"].append(spread.cpu())
        fields["top1"].append(logits[part].argmax(-1).to(torch.int32).cpu())
    fields = {name: torch.cat(values) for name, values in fields.items()}
    fields["log_norm"] = _cross(fields["hidden"], fields["expected"], fields["bias"], lse.double().cpu())
    return fields


def _cross(hidden, expected, bias, lse):
    """Σ_v p_v ln q_v for a model with hidden states `hidden` and log-normalisers `lse` whose head is
    the reference's: h·e + b·p − lse, in float64."""
    return (hidden.double() * expected.double()).sum(-1) + bias - lse


def divergence_chunk(hidden, logits, lse, recorded, head):
    """(KL_t ≥ 0 in nats, top-1 agreement as 0/1) of positions with this model's final hidden
    states `hidden`, logits `logits` and their logsumexp `lse`, against their recorded reference
    fields. `head` is None where the model's head is the reference's (the exact shortcut, which
    reads `lse`), else the ReferenceHead."""
    agree = (logits.argmax(-1).cpu() == recorded["top1"].long()).to(torch.int64)
    if head is None:
        kl = recorded["log_norm"] - _cross(
            hidden.float().cpu(), recorded["expected"], recorded["bias"], lse.double().cpu()
        )
    else:
        pieces = []
        for start in range(0, hidden.shape[0], DIVERGENCE_ROWS):
            part = slice(start, start + DIVERGENCE_ROWS)
            log_p = torch.log_softmax(head.logits(recorded["hidden"][part].to(logits.device)), dim=-1)
            log_q = torch.log_softmax(logits[part], dim=-1)
            pieces.append((log_p.exp() * (log_p - log_q)).sum(-1, dtype=torch.float64).cpu())
        kl = torch.cat(pieces)
    # Rounding leaves an identical distribution a hair off 0; far below it, or not finite, is a fault.
    if not torch.isfinite(kl).all() or kl.min() < -ROUNDING_SLACK:
        raise QuantFairnessError(
            f"a KL divergence of {float(kl.min()):.3g} nats: the logits or the reference are broken"
        )
    return kl.clamp(min=0.0), agree


class Recording:
    """Collects the reference fields of every position while the unquantized model is scored. Where
    its head is not float32 (bfloat16 numerics) or its logits are softcapped, no comparison can take
    the shortcut: the fields come from its ReferenceHead, as every comparison will rebuild them."""

    def __init__(self, model, keys):
        self.head = ReferenceHead.of(model)
        self.rebuilt = not self.head.is_head_of(model)
        self.keys, self.parts, self.segments = keys, [], []

    def start_batch(self, batch, segments):
        self.segments.append(segments)

    def chunk(self, hidden, logits, lse, start):
        if self.rebuilt:
            logits = self.head.logits(hidden)
            lse = torch.logsumexp(logits, dim=-1)
        weight, bias = self.head.weight.to(hidden.device), self.head.bias
        self.parts.append(record_chunk(hidden, logits, lse, weight, None if bias is None else bias.to(hidden.device)))
        return {}

    def reference(self):
        """The Reference, positions regrouped by segment in the order of `keys`."""
        segments = torch.cat(self.segments)
        order = torch.argsort(segments, stable=True)
        counts = torch.bincount(segments, minlength=len(self.keys))
        offsets = torch.cat([torch.zeros(1, dtype=torch.int64), counts.cumsum(0)])
        fields = {name: torch.cat([part[name] for part in self.parts])[order] for name in RECORD_FIELDS}
        return Reference(self.keys, offsets, fields)


class Comparison:
    """Per position, the KL divergence of a model from a Reference and whether their top tokens agree."""

    def __init__(self, reference, keys, positions, model, head):
        if head is None:
            raise QuantFairnessError(
                "comparing with a reference needs its LM head (ReferenceHead.of the unquantized model)"
            )
        reference.check_segments(keys, positions)
        self.reference, self.keys = reference, keys
        # The exact shortcut holds only while the model's head is the reference's, bit for bit.
        self.head = None if head.is_head_of(model) else head

    def start_batch(self, batch, segments):
        self.recorded = self.reference.positions([self.keys[i] for i in batch])

    def chunk(self, hidden, logits, lse, start):
        part = {name: values[start : start + logits.shape[0]] for name, values in self.recorded.items()}
        kl, agree = divergence_chunk(hidden, logits, lse, part, self.head)
        return {"kl_divergence": kl, "top1_agreement": agree}
