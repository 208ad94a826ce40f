"""Where a causal LM's weights live, found from its structure, not from its parameter names.

The decoder blocks are the `nn.ModuleList` whose length is the config's layer count.
Inside a block, a child with 2-D weights whose class is an attention module is
attention, any other child with 2-D weights is the MLP, and a child whose parameters
are all 1-D is a norm. Outside the blocks, the input embedding and output head come
from `get_input_embeddings()` / `get_output_embeddings()`, other `nn.Embedding`s are
position embeddings, and 1-D-only modules are norms. This holds for GPT-2 (Conv1D),
OPT, GPT-NeoX, BLOOM, Llama and Gemma 3 alike.

    for weight in weight_map(model):
        print(weight.name, weight.component, weight.layer)
"""

from dataclasses import dataclass

from torch import nn

from quant_fairness.errors import QuantFairnessError


@dataclass(frozen=True)
class WeightInfo:
    name: str  # parameter name as in model.named_parameters()
    component: str  # one of quant_fairness.quantize.strategies.COMPONENTS
    layer: int | None  # decoder block index, None outside the blocks
    module: nn.Module  # the module that owns the parameter
    numel: int

    @property
    def is_matrix_weight(self):
        """A 2-D weight of a Linear/Conv1D: what round-to-nearest quantizers target."""
        return (
            self.name.endswith("weight") and self.module.weight.dim() == 2 and not isinstance(self.module, nn.Embedding)
        )


def layer_count(model):
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    for key in ("num_hidden_layers", "n_layer", "num_layers"):
        if getattr(config, key, None):
            return int(getattr(config, key))
    raise QuantFairnessError(f"{type(model).__name__}: config names no layer count")


def decoder_blocks(model):
    """(qualified name, ModuleList) of the decoder blocks."""
    count = layer_count(model)
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, nn.ModuleList) and len(m) == count]
    # Nested lists of the same length (rare) resolve to the outermost one.
    if not found:
        raise QuantFairnessError(f"{type(model).__name__}: no ModuleList of {count} decoder blocks found")
    return found[0]


def _is_norm(module):
    params = list(module.parameters())
    return bool(params) and all(p.dim() == 1 for p in params)


def _block_component(child):
    if _is_norm(child):
        return "norm"
    name = type(child).__name__.lower()
    return "attention" if "attention" in name or "attn" in name else "mlp"


def weight_map(model):
    """Every (deduplicated) parameter with its component and decoder-block index."""
    blocks_name, blocks = decoder_blocks(model)
    owners = {}
    for module_name, module in model.named_modules():
        for param_name, _ in module.named_parameters(recurse=False):
            owners[f"{module_name}.{param_name}" if module_name else param_name] = module
    block_component = {}
    for index, block in enumerate(blocks):
        for child_name, child in block.named_children():
            block_component[f"{blocks_name}.{index}.{child_name}"] = (_block_component(child), index)
        for param_name, _ in block.named_parameters(recurse=False):
            block_component[f"{blocks_name}.{index}.{param_name}"] = ("other", index)
    input_embedding = model.get_input_embeddings()
    output_embedding = model.get_output_embeddings()
    weights = []
    for name, param in model.named_parameters():
        module = owners[name]
        component, layer = "other", None
        for prefix, (kind, index) in block_component.items():
            if name == prefix or name.startswith(prefix + "."):
                component, layer = kind, index
                break
        else:
            if module is input_embedding:
                component = "embedding"
            elif module is output_embedding:
                component = "lm_head"
            elif isinstance(module, nn.Embedding):
                component = "position_embedding"
            elif _is_norm(module):
                component = "norm"
        weights.append(WeightInfo(name, component, layer, module, param.numel()))
    return weights


def lm_head_is_tied(model):
    head, embedding = model.get_output_embeddings(), model.get_input_embeddings()
    return head is not None and head.weight is embedding.weight
