"""Layer discovery is structural: it finds blocks, attention, MLP, norms, embeddings and the
LM head in every supported architecture family without per-family name lists."""

from collections import Counter

from torch import nn

from quant_fairness.data.layers import decoder_blocks, lm_head_is_tied, weight_map


def test_every_block_has_attention_mlp_and_norm(family_model):
    family, model = family_model
    _, blocks = decoder_blocks(model)
    assert len(blocks) == 3
    per_layer = Counter((w.layer, w.component) for w in weight_map(model) if w.layer is not None)
    for layer in range(3):
        for component in ("attention", "mlp", "norm"):
            assert per_layer[(layer, component)] > 0, (family, layer, component)


def test_embeddings_head_and_final_norm_found(family_model):
    family, model = family_model
    weights = weight_map(model)
    outside = {w.component for w in weights if w.layer is None}
    assert "embedding" in outside
    assert "norm" in outside
    assert "other" not in outside, [w.name for w in weights if w.component == "other"]
    if lm_head_is_tied(model):
        assert "lm_head" not in outside
    else:
        assert "lm_head" in outside
    if family in ("gpt2", "opt"):
        assert "position_embedding" in outside


def test_weight_map_covers_every_parameter_once(family_model):
    _, model = family_model
    names = [w.name for w in weight_map(model)]
    assert names == [name for name, _ in model.named_parameters()]
    assert sum(w.numel for w in weight_map(model)) == sum(p.numel() for p in model.parameters())


def test_matrix_weights_are_linear_or_conv1d_never_embeddings(family_model):
    family, model = family_model
    matrices = [w for w in weight_map(model) if w.is_matrix_weight]
    assert matrices
    for w in matrices:
        assert not isinstance(w.module, nn.Embedding)
        assert w.component in ("attention", "mlp", "lm_head", "other")
    if family == "gpt2":
        assert {type(w.module).__name__ for w in matrices if w.layer is not None} == {"Conv1D"}
