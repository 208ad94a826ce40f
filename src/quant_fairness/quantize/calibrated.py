"""Calibration-based weight quantizers: GPTQ (Frantar et al. 2022) and AWQ-style scaling (Lin et al. 2023).

Both read statistics of each layer's inputs on calibration text, gathered in one pass:

    batches = [(input_ids, attention_mask), ...]        # LongTensors (batch, seq), padding masked out
    names = [w.name for w in weight_map(model) if w.is_matrix_weight]
    stats = collect_linear_statistics(model, batches, names)
    weight = model.get_parameter(name)                  # nn.Linear layout (out, in); Conv1D: pass weight.t()
    w_hat, bits = gptq_quantize(weight, stats[name].hessian, bits=4, group_size=128)
    w_hat, bits = awq_quantize(weight, stats[name], bits=4, group_size=128)

Both return (dequantized weight, storage bits) on the grid of
`quantizers.round_to_nearest`: FP16 scales, asymmetric ranges that contain 0 with an
integer zero point, groups along the input axis with a ragged last group of its own.

Statistics come from ONE forward pass of the unquantized model for all layers at once.
The GPTQ reference instead re-collects each block's inputs after quantizing the blocks
before it (one model pass per block); on CPU that multiplies calibration time by the
layer count, so every layer here sees unquantized inputs. AWQ in llm-awq also searches
on unquantized-model inputs, so only GPTQ differs from its reference in this respect.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from transformers.pytorch_utils import Conv1D

from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.quantizers import SCALE_BITS, group_grid, quantize_codes, round_to_nearest

FP16_TINY, FP16_MAX = 2.0**-14, 65504.0
# Weight entries whose GPTQ columns are swept together: chosen by measurement (benchmarks/README.md);
# each matrix also brings its (cols × cols) factor of H⁻¹.
SWEEP_BATCH_ELEMENTS = 2**24


@dataclass(frozen=True)
class LinearStatistics:
    hessian: torch.Tensor | None  # (in, in) float64: 2/n Σ x xᵀ over real tokens (None if not asked for)
    mean_abs_input: torch.Tensor  # (in,) float32: mean |x| per input channel
    mean_square_input: torch.Tensor  # (in,) float32: mean x² per input channel
    sample_inputs: torch.Tensor  # (≤ sample_rows, in) float32: inputs at evenly spaced real tokens
    tokens: int  # n, the real tokens seen


# --- calibration statistics -------------------------------------------------------------


def _owner(model, name):
    module_name, _, attr = name.rpartition(".")
    module = model.get_submodule(module_name)
    if attr != "weight" or not isinstance(module, nn.Linear | Conv1D):
        raise QuantFairnessError(f"{name}: calibration statistics need the weight of an nn.Linear or Conv1D")
    return module


class _Running:
    """Sums over the real-token rows of one module's inputs, across batches."""

    def __init__(self, features, picks, hessian):
        self.outer = torch.zeros(features, features, dtype=torch.float64) if hessian else None
        self.abs = torch.zeros(features, dtype=torch.float64)
        self.squares = torch.zeros(features, dtype=torch.float64)
        self.samples = []
        self.tokens = 0
        self.picks = picks  # global row indices to keep as samples

    def add(self, rows, offset):
        rows = rows.float()
        # Each batch's product is float32 (as in the GPTQ reference); the running sum is
        # float64 so that many batches do not lose the small ones.
        if self.outer is not None:
            self.outer += (rows.t() @ rows).double().cpu()
        self.abs += rows.abs().sum(0).double().cpu()
        self.squares += rows.square().sum(0).double().cpu()
        self.tokens += rows.shape[0]
        wanted = self.picks[(self.picks >= offset) & (self.picks < offset + rows.shape[0])] - offset
        self.samples.append(rows[wanted.to(rows.device)].cpu())

    def result(self, name):
        if self.tokens == 0:
            raise QuantFairnessError(f"{name}: its module never ran on the calibration batches")
        return LinearStatistics(
            hessian=None if self.outer is None else self.outer * (2 / self.tokens),
            mean_abs_input=(self.abs / self.tokens).float(),
            mean_square_input=(self.squares / self.tokens).float(),
            sample_inputs=torch.cat(self.samples),
            tokens=self.tokens,
        )


def _real_rows(x, mask):
    """Rows of a module input at real tokens; mask None means the rows are real tokens already."""
    rows = x.reshape(-1, x.shape[-1])
    if mask is None:
        return rows
    # OPT's MLP sees (batch·seq, features) rather than (batch, seq, features); row order is the same.
    if rows.shape[0] != mask.numel():
        raise QuantFairnessError(f"module input of shape {tuple(x.shape)} does not match the batch {tuple(mask.shape)}")
    return rows[mask.reshape(-1)]


@torch.no_grad()
def collect_linear_statistics(model, batches, names, sample_rows=256, hessian=True):
    """{name: LinearStatistics} of the inputs of the modules owning `names`, over `batches`.

    The (in × in) Hessian, the costly part, is summed only when `hessian` (GPTQ needs it;
    AWQ and activation salience need only the per-channel means).

    `batches` are (input_ids, attention_mask) pairs; positions with mask 0 are padding
    and count nowhere. `sample_inputs` keeps the rows at `sample_rows` evenly spaced
    real tokens (in batch order), so the choice is deterministic.
    """
    modules = {name: _owner(model, name) for name in names}
    if not modules:
        return {}
    total = sum(int(mask.sum()) for _, mask in batches)
    picks = torch.linspace(0, max(total - 1, 0), min(sample_rows, total)).round().long().unique()
    device = next(model.parameters()).device
    running = {
        name: _Running(module.weight.shape[1 if isinstance(module, nn.Linear) else 0], picks, hessian)
        for name, module in modules.items()
    }
    # Modules fed the same tensor (q/k/v, gate/up) share one running sum: computed once,
    # and GPTQ can then quantize them as one stacked matrix. Holding each batch's inputs in
    # `seen` keeps their ids from being reused by later tensors within the batch.
    state = {"mask": None, "offset": 0, "seen": {}}
    reads_from = {}

    def hook_for(name):
        def hook(module, args, kwargs):
            x = args[0] if args else next(iter(kwargs.values()))
            leader, _ = state["seen"].setdefault(id(x), (name, x))
            if reads_from.setdefault(name, leader) != leader:
                raise QuantFairnessError(f"{name}: its input is shared differently from batch to batch")
            if leader == name:
                running[name].add(_real_rows(x, state["mask"]), state["offset"])

        return hook

    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_pre_hook(hook_for(name), with_kwargs=True))
        head = model.get_output_embeddings()
        head_hooked = any(module is head for module in modules.values())
        for input_ids, attention_mask in batches:
            mask = attention_mask.to(device).bool()
            state["mask"] = mask
            state["seen"] = {}
            hidden = model.base_model(
                input_ids=input_ids.to(device), attention_mask=attention_mask.to(device), use_cache=False
            ).last_hidden_state
            if head_hooked:
                # The head runs on real rows only (as in evaluate.py): full logits of a
                # 256k vocabulary over padded batches would cost gigabytes.
                state["mask"] = None
                head(hidden[mask])
            state["offset"] += int(mask.sum())
    finally:
        for handle in handles:
            handle.remove()
        state["seen"] = {}
    results = {name: running[name].result(name) for name in names if reads_from.get(name, name) == name}
    return {name: results[reads_from.get(name, name)] for name in names}


@dataclass(frozen=True)
class GroupCodes:
    """Integer codes of a weight (out, in) with one FP16 scale and zero point per row and group."""

    codes: torch.Tensor  # (out, in) integer-valued float32, original column order
    scale: torch.Tensor  # (out, groups) FP16 values held in float32
    zero: torch.Tensor  # (out, groups) integer-valued; 0 when symmetric
    group: torch.Tensor  # (in,) group of each column (GPTQ's g_idx)
    bits: int
    symmetric: bool
    act_order: bool

    def dequantize(self):
        return (self.codes - self.zero[:, self.group]) * self.scale[:, self.group]

    @property
    def storage_bits(self):
        """Codes + FP16 scale (+ zero) per group, as round_to_nearest counts them.

        With act_order and more than one group per row, the columns of a group are
        scattered, so the format also keeps the permutation: ceil(log2(in)) bits per
        column (what reordering kernels such as ExLlama read; a bare g_idx would need
        only ceil(log2(groups))). With one group per row the order is irrelevant.
        """
        rows, cols = self.codes.shape
        groups = self.scale.shape[1]
        bits = self.bits * rows * cols + rows * groups * (SCALE_BITS + (0 if self.symmetric else self.bits))
        if self.act_order and groups > 1:
            bits += cols * math.ceil(math.log2(cols))
        return bits


# --- GPTQ ---------------------------------------------------------------------------------


def _inverse_hessian_factor(hessian, damp):
    """Upper Cholesky factor of the damped inverse Hessian (the reference's Hinv), float64."""
    h = hessian.clone()
    h.diagonal().add_(damp * h.diagonal().mean())
    try:
        lower = torch.linalg.cholesky(h)
    except torch.linalg.LinAlgError as error:
        raise QuantFairnessError(
            f"GPTQ: the damped Hessian is not positive definite; raise damp above {damp}"
        ) from error
    return torch.linalg.cholesky(torch.cholesky_inverse(lower), upper=True)


def _pending_update(errors, hinv, b, start, stop, end):
    """What block start:stop's errors of matrix `b` still owe columns stop:end of its Wᵀ: one
    matmul per matrix, as when it is quantized alone."""
    return (errors[b].t() @ hinv[b, start:stop, stop:end]).t()


def _group_values(wt, block, errors, hinv, start, i, size):
    """Current values of the group starting at block column `i`, one column per row, per matrix.

    Columns inside the block are up to date; those past it still lack this block's
    pending update. (The reference reads the stale W here, which matters only when a
    group starts inside a block, i.e. group_size not a multiple of block_size.)
    """
    end = min(start + i + size, wt.shape[1])
    stop = start + block.shape[1]
    inside = block[:, i : min(end, stop) - start]
    if end <= stop:
        return inside
    outside = [wt[b, stop:end] - _pending_update(errors, hinv, b, start, stop, end) for b in range(wt.shape[0])]
    return torch.cat([inside, torch.stack(outside)], dim=1)


def _gptq_columns(w, hinv, bits, size, symmetric, block_size, kept=None):
    """Quantize the columns of each matrix w[b] (batch, rows, cols) in order, spreading each error
    over its later columns through its own hinv[b]: (codes, scale, zero), each batched.

    `kept` (like w) holds the original value of each protected entry and NaN elsewhere:
    a protected entry ends at its original value, so its error is measured against that.
    The loop runs on Wᵀ, where a column is one contiguous row. Every step is elementwise
    within a matrix (its matmuls run per matrix), so a batch computes for each matrix what it
    would alone, on the same values, with one dispatch per operation for all of them.
    """
    batch, rows, cols = w.shape
    wt = w.transpose(1, 2).contiguous()
    kept = None if kept is None else kept.transpose(1, 2).contiguous()
    codes = torch.zeros_like(wt)
    scale = torch.zeros(batch, math.ceil(cols / size), rows)
    zero = torch.zeros_like(scale)
    diagonal = hinv.diagonal(dim1=1, dim2=2)[:, :, None]
    update = torch.empty(batch, block_size, rows)  # reused for every column's spread
    for start in range(0, cols, block_size):
        stop = min(start + block_size, cols)
        block = wt[:, start:stop].clone()
        errors = torch.zeros_like(block)
        for i in range(stop - start):
            column, g = start + i, (start + i) // size
            if column % size == 0:
                values = _group_values(wt, block, errors, hinv, start, i, size)
                scale[:, g], zero[:, g] = group_grid(values.transpose(1, 2), bits, symmetric)
            codes[:, column] = quantize_codes(block[:, i], scale[:, g], zero[:, g], bits, symmetric)
            dequantized = (codes[:, column] - zero[:, g]) * scale[:, g]
            if kept is not None:
                dequantized = torch.where(kept[:, column].isnan(), dequantized, kept[:, column])
            torch.div(block[:, i] - dequantized, diagonal[:, column], out=errors[:, i])
            spread = update[:, : stop - start - i - 1]
            torch.mul(hinv[:, column, column + 1 : stop, None], errors[:, i, None], out=spread)
            block[:, i + 1 :] -= spread
        # Lazy batch update: later blocks receive this block's errors in one matmul per matrix.
        for b in range(batch):
            wt[b, stop:] -= _pending_update(errors, hinv, b, start, stop, cols)
    return codes.transpose(1, 2), scale.transpose(1, 2), zero.transpose(1, 2)


def _gptq_inputs(weight, hessian, keep, damp, act_order):
    """(W, upper factor of H⁻¹, kept values or None, column order or None) of one weight, its
    columns in the order they are quantized; see gptq_codes."""
    w = weight.detach().float().cpu().clone()
    rows, cols = w.shape
    if tuple(hessian.shape) != (cols, cols):
        raise QuantFairnessError(f"GPTQ: Hessian {tuple(hessian.shape)} does not fit a weight with {cols} inputs")
    h = hessian.detach().double().cpu().clone()
    dead = h.diagonal() == 0
    h.diagonal()[dead] = 1
    # The reference sets per-channel ranges before zeroing dead columns; here every
    # range is taken at its group's start, which differs only if a dead column held a
    # row's extreme weight.
    w[:, dead] = 0
    kept = None if keep is None else torch.where(keep.cpu(), weight.detach().float().cpu(), torch.nan)
    if not act_order:
        return w, _inverse_hessian_factor(h, damp).float(), kept, None
    perm = torch.argsort(h.diagonal(), descending=True, stable=True)
    kept = None if kept is None else kept[:, perm]
    return w[:, perm], _inverse_hessian_factor(h[perm][:, perm], damp).float(), kept, perm


def sweep_batches(kinds, sizes, limit=SWEEP_BATCH_ELEMENTS):
    """Indices of the weights that can sweep their columns together: of one kind (a shape, and
    whatever else must match), in order, at most `limit` entries (`sizes`) per batch unless alone."""
    batches, open_of = [], {}
    for index, (kind, size) in enumerate(zip(kinds, sizes, strict=True)):
        batch = open_of.get(kind)
        if batch is None or batch["entries"] + size > limit:
            batch = open_of[kind] = {"indices": [], "entries": 0}
            batches.append(batch["indices"])
        batch["indices"].append(index)
        batch["entries"] += size
    return batches


def gptq_codes_many(
    weights, hessians, bits, group_size=128, symmetric=False, damp=0.01, block_size=128, act_order=False, keeps=None
):
    """GPTQ of weights of one shape, each with its own Hessian (see gptq_codes): [GroupCodes].

    Their columns are swept together, each weight exactly as it would be alone. A column step
    of a small matrix costs mostly its dispatch, so a 30-block model's q/k/v stacks take one
    sweep instead of 30 (sweep_batches bounds a batch: smollm2's 30 gate/up stacks swept
    together were slower than one by one).
    """
    if len({tuple(weight.shape) for weight in weights}) != 1:  # also refuses no weights at all
        raise QuantFairnessError(f"GPTQ sweeps weights of one shape together, not {[tuple(w.shape) for w in weights]}")
    keeps = keeps or [None] * len(weights)
    w, hinv, kept, perms = zip(
        *(_gptq_inputs(*job, damp, act_order) for job in zip(weights, hessians, keeps, strict=True)), strict=True
    )
    cols = w[0].shape[1]
    if all(values is None for values in kept):
        kept = None
    else:
        kept = torch.stack([torch.full_like(w[0], torch.nan) if values is None else values for values in kept])
    size = cols if group_size is None else min(group_size, cols)
    codes, scale, zero = _gptq_columns(torch.stack(w), torch.stack(hinv), bits, size, symmetric, block_size, kept)
    group = torch.arange(cols) // size
    results = []
    for b, perm in enumerate(perms):
        order = slice(None) if perm is None else torch.argsort(perm)
        results.append(
            GroupCodes(
                codes[b][:, order].contiguous(),
                scale[b].contiguous(),
                zero[b].contiguous(),
                group[order],
                bits,
                symmetric,
                act_order,
            )
        )
    return results


def gptq_codes(
    weight, hessian, bits, group_size=128, symmetric=False, damp=0.01, block_size=128, act_order=False, keep=None
):
    """GPTQ of a weight in nn.Linear layout (out, in) given its input Hessian (in, in): GroupCodes.

    As IST-DASLab/gptq `fasterquant`: dead inputs (H_ii = 0) get H_ii = 1 and zero
    weights; damping adds `damp` × mean(diag H); columns are quantized in order (by
    descending diag H with `act_order`) through the upper Cholesky factor of H⁻¹ in
    blocks of `block_size` columns; a group's scale and zero are set from the current
    (error-updated) weights when the group starts. `group_size=None`: one group per row.
    `keep` (bool, like weight) marks entries that stay at their original value (FP16
    protection): later columns compensate for them as they really end up.
    """
    return gptq_codes_many([weight], [hessian], bits, group_size, symmetric, damp, block_size, act_order, [keep])[0]


def gptq_quantize_many(
    weights, hessians, bits, group_size=128, symmetric=False, damp=0.01, block_size=128, act_order=False, keeps=None
):
    """GPTQ of several weights (see gptq_codes_many): [(dequantized weight in its dtype, storage bits)]."""
    results = gptq_codes_many(weights, hessians, bits, group_size, symmetric, damp, block_size, act_order, keeps)
    return [
        (result.dequantize().to(weight.dtype).to(weight.device), result.storage_bits)
        for weight, result in zip(weights, results, strict=True)
    ]


def gptq_quantize(
    weight, hessian, bits, group_size=128, symmetric=False, damp=0.01, block_size=128, act_order=False, keep=None
):
    """GPTQ (see gptq_codes); returns (dequantized weight in weight's dtype, storage bits)."""
    return gptq_quantize_many([weight], [hessian], bits, group_size, symmetric, damp, block_size, act_order, [keep])[0]


# --- AWQ-style activation-aware scaling ----------------------------------------------------


def awq_scale(mean_abs_input, alpha):
    """Per-input-channel scale s = mean|x|^alpha, normalised by sqrt(max · min) as llm-awq does.

    s is stored in FP16, so it is used as FP16; it is kept within FP16's normal range.
    """
    s = mean_abs_input.float().pow(alpha).clamp(min=1e-4)
    s = s / (s.max() * s.min()).sqrt()
    return s.clamp(FP16_TINY, FP16_MAX).half().float()


def output_mse(inputs, weight, dequantized):
    """Mean of (X Wᵀ − X Ŵᵀ)² over sample rows and outputs, in float64."""
    return float((inputs.double() @ (weight.double() - dequantized.double()).t()).pow(2).mean())


def _scaled_rtn(w, s, bits, group_size, symmetric):
    quantized, storage = round_to_nearest(w * s, bits, group_size, symmetric)
    return quantized / s, storage


def awq_search(weight, statistics, bits, group_size=128, symmetric=False, grid=20):
    """(alpha, s, output MSE) of the best alpha in {0, 1/grid, …, (grid−1)/grid}.

    Ties keep the smaller alpha, so alpha = 0 (plain round-to-nearest) wins unless
    another one is strictly better on `statistics.sample_inputs`.
    """
    w = weight.detach().float().cpu()
    if w.shape[1] != statistics.mean_abs_input.shape[0]:
        raise QuantFairnessError(
            f"AWQ: statistics of {statistics.mean_abs_input.shape[0]} inputs, weight {tuple(w.shape)}"
        )
    if grid < 1 or statistics.sample_inputs.shape[0] == 0:
        raise QuantFairnessError("AWQ needs grid >= 1 and at least one sample input")
    best = None
    for step in range(grid):
        s = awq_scale(statistics.mean_abs_input, step / grid)
        error = output_mse(statistics.sample_inputs, w, _scaled_rtn(w, s, bits, group_size, symmetric)[0])
        if best is None or error < best[2]:
            best = (step / grid, s, error)
    return best


def awq_quantize(weight, statistics, bits, group_size=128, symmetric=False, grid=20):
    """AWQ-style scaling of a weight (out, in): Q(W·diag(s))·diag(s)⁻¹ with the searched s.

    Returns (dequantized weight, storage bits). Storage is round_to_nearest's plus the
    FP16 s per input channel (16 × in): real AWQ folds s into the previous operation
    for free, but here the weight is dequantized on its own, so s must be kept.
    Simplifications against llm-awq: the MSE is this layer's output (not its block's),
    each layer gets its own s (q/k/v do not share one), and there is no clipping search.
    """
    _, s, _ = awq_search(weight, statistics, bits, group_size, symmetric, grid)
    w = weight.detach().float().cpu()
    dequantized, storage = _scaled_rtn(w, s, bits, group_size, symmetric)
    return dequantized.to(weight.dtype).to(weight.device), storage + SCALE_BITS * w.shape[1]
