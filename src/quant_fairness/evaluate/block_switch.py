"""Run a model with chosen decoder blocks kept at their original weights and the rest
quantized, and skip the blocks whose output is already known.

Protecting block i leaves blocks 0..i-1 exactly as in every candidate that protects a
later block, so their outputs can be cached once and fed straight into block i:

    switch = BlockSwitch(model, strategy)       # quantizes the model once
    switch.protect({0, 9})                      # blocks 0 and 9 original, the rest quantized
    with capture_block_inputs(switch.blocks, [4, 9]) as inputs:
        run(...)                                # inputs.hidden[k]: states entering block k, per batch
    with start_at_block(switch.blocks, 9, inputs):
        run(...)                                # blocks 0..8 are skipped, block 9 reads the cache
    switch.restore()                            # every weight back to the original

The hooks work on any Hugging Face decoder whose blocks take the hidden states as their
first argument and return them (alone or first in a tuple): GPT-2, OPT, GPT-NeoX,
BLOOM, Llama and Gemma 3.
"""

import contextlib
from dataclasses import dataclass

import torch

from quant_fairness.data.layers import decoder_blocks
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import apply_strategy


class BlockSwitch:
    """A model quantized by a strategy whose decoder blocks can each be put back to original."""

    @torch.no_grad()
    def __init__(self, model, strategy, salience_indices=None, calibration_batches=None):
        self.model = model
        self._blocks_name, self.blocks = decoder_blocks(model)
        # Both copies are kept in host memory: on a GPU the model alone may fill the device.
        self.original = {name: param.detach().to("cpu", copy=True) for name, param in model.named_parameters()}
        try:
            self.storage = apply_strategy(model, strategy, salience_indices, calibration_batches)
        except Exception:
            self.restore()  # a strategy that fails halfway must not leave the model half quantized
            raise
        self.quantized = [
            {name: p.detach().to("cpu", copy=True) for name, p in block.named_parameters()} for block in self.blocks
        ]
        self.protected = frozenset()

    @torch.no_grad()
    def protect(self, layers):
        """Blocks in `layers` take their original weights, every other block its quantized ones."""
        layers = frozenset(layers)
        for index in self.protected ^ layers:
            for name, param in self.blocks[index].named_parameters():
                original = self.original[f"{self._blocks_name}.{index}.{name}"]
                source = original if index in layers else self.quantized[index][name]
                param.copy_(source)
        self.protected = layers

    @torch.no_grad()
    def restore(self):
        """Every parameter back to its original value (the model as it was before quantization)."""
        for name, param in self.model.named_parameters():
            param.copy_(self.original[name])
        self.protected = frozenset(range(len(self.blocks)))


def _hidden_states(args, kwargs):
    return args[0] if args else kwargs["hidden_states"]


@dataclass
class BlockInputs:
    hidden: dict  # block index: [hidden states entering it, one tensor per batch]
    returns_tuple: bool = False  # BLOOM's blocks return (hidden_states,), the others a tensor


@contextlib.contextmanager
def capture_block_inputs(blocks, indices):
    """Record the hidden states entering the blocks `indices` on every batch run inside the block."""
    inputs = BlockInputs({index: [] for index in indices})

    def recorder(index):
        def hook(module, args, kwargs):
            inputs.hidden[index].append(_hidden_states(args, kwargs).detach().clone())

        return hook

    def output_kind(module, args, kwargs, output):
        inputs.returns_tuple = isinstance(output, tuple)

    handles = [blocks[index].register_forward_pre_hook(recorder(index), with_kwargs=True) for index in inputs.hidden]
    handles.append(blocks[0].register_forward_hook(output_kind, with_kwargs=True))
    try:
        yield inputs
    finally:
        for handle in handles:
            handle.remove()


@contextlib.contextmanager
def start_at_block(blocks, first, inputs):
    """Skip blocks before `first` and feed it its captured hidden states, one tensor per batch."""
    feed = iter(inputs.hidden[first])

    def passthrough(hidden_states, *args, **kwargs):
        return (hidden_states,) if inputs.returns_tuple else hidden_states

    def substitute(module, args, kwargs):
        hidden = next(feed, None)
        if hidden is None:
            raise QuantFairnessError(f"block {first} got more batches than were captured: score the same split")
        if args:
            return (hidden, *args[1:]), kwargs
        return args, {**kwargs, "hidden_states": hidden}

    # Another library may have set an instance `forward` (accelerate's hooks do): keep it.
    own = [block.__dict__.get("forward") for block in blocks[:first]]
    handle = blocks[first].register_forward_pre_hook(substitute, with_kwargs=True)
    try:
        for block in blocks[:first]:
            block.forward = passthrough
        yield
    finally:
        handle.remove()
        for block, forward in zip(blocks[:first], own, strict=True):
            if forward is None:
                block.__dict__.pop("forward", None)
            else:
                block.forward = forward
