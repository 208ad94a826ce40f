"""Protection rules keep exactly the weights they select bit-identical, quantize every other
targeted weight, count the patch in the storage, and refuse rules that do not fit the model."""

import math

import pytest
import torch
from conftest import tiny_model, tiny_tokenizer

from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.apply import apply_strategy, targeted_weights
from quant_fairness.quantize.protection import patch_bits, protection_masks, top_percent_masks
from quant_fairness.quantize.salience import salience_mask
from quant_fairness.quantize.strategies import parse_strategy

RTN = {"quantizer": "rtn", "bits": 4, "granularity": "group", "group_size": 16, "symmetric": False}
SEED = {"quantizer": "seed_absmax"}


def _protected_and_changed(model, spec, **kwargs):
    """Apply a strategy; return (storage, {name: bool mask of entries left bit-identical}, targeted)."""
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    strategy = parse_strategy("s", spec)
    targeted = targeted_weights(model, strategy)
    storage = apply_strategy(model, strategy, **kwargs)
    after = dict(model.named_parameters())
    kept = {w.name: after[w.name] == before[w.name] for w in targeted}
    return storage, kept, targeted


@pytest.mark.parametrize(
    "protect",
    [
        {"top_percent": 10},
        {"top_percent": 10, "scope": "tensor"},
        {"layers": [0, -1]},
        {"depths": [0.5]},
        {"components": ["attention"]},
        {"components": ["first_attention"]},
        {"heads": [{"layer": 0, "heads": [1]}]},
    ],
)
def test_protected_weights_are_bit_identical_and_the_rest_quantized(family_model, protect):
    family, model = family_model
    reference = {name: p.detach().clone() for name, p in model.named_parameters()}
    strategy = parse_strategy("s", {**RTN, "protect": protect})
    masks = protection_masks(model, strategy, targeted_weights(model, strategy))
    assert masks, family
    storage = apply_strategy(model, strategy)
    plain = tiny_model(family)
    apply_strategy(plain, parse_strategy("plain", RTN))
    plain_params, params = dict(plain.named_parameters()), dict(model.named_parameters())
    for weight in targeted_weights(model, strategy):
        mask = masks.get(weight.name, torch.zeros_like(params[weight.name], dtype=torch.bool))
        assert torch.equal(params[weight.name][mask], reference[weight.name][mask]), weight.name
        # Outside the mask the values are exactly plain quantization's, and nearly all moved.
        assert torch.equal(params[weight.name][~mask], plain_params[weight.name][~mask]), weight.name
        if (~mask).any():
            assert (params[weight.name][~mask] == reference[weight.name][~mask]).float().mean() < 0.2
    assert storage["protected_parameters"] == sum(int(m.sum()) for m in masks.values())


def test_top_percent_global_keeps_the_largest_magnitudes_across_tensors():
    model = tiny_model("llama")
    params = dict(model.named_parameters())
    strategy = parse_strategy("s", {**SEED, "protect": {"top_percent": 5}})
    targeted = targeted_weights(model, strategy)
    magnitudes = torch.cat([params[w.name].detach().abs().flatten() for w in targeted])
    threshold = magnitudes.sort(descending=True).values[round(0.05 * magnitudes.numel()) - 1]
    storage = apply_strategy(model, strategy)
    assert storage["protected_parameters"] == int((magnitudes >= threshold).sum())
    assert storage["protected_parameters"] == pytest.approx(0.05 * magnitudes.numel(), abs=2)


def test_zero_percent_protects_nothing_and_costs_nothing():
    with_zero = apply_strategy(tiny_model("gpt2"), parse_strategy("s", {**SEED, "protect": {"top_percent": 0}}))
    plain = apply_strategy(tiny_model("gpt2"), parse_strategy("s", SEED))
    assert with_zero["storage_bits"] == plain["storage_bits"] and with_zero["protected_parameters"] == 0


def test_patch_costs_fp16_values_plus_the_smaller_index():
    sparse = torch.zeros(64, 64, dtype=torch.bool)
    sparse[0, :3] = True
    assert patch_bits(sparse) == 3 * 16 + 3 * math.ceil(math.log2(64 * 64))
    dense = torch.ones(64, 64, dtype=torch.bool)
    dense[0, 0] = False
    assert patch_bits(dense) == (64 * 64 - 1) * 16 + 64 * 64  # a bitmap beats 4095 indices
    partial = apply_strategy(tiny_model("llama"), parse_strategy("s", {**RTN, "protect": {"top_percent": 1}}))
    plain = apply_strategy(tiny_model("llama"), parse_strategy("s", RTN))
    assert partial["storage_bits"] > plain["storage_bits"] + 16 * partial["protected_parameters"]


def test_whole_protected_tensors_cost_fp16_only():
    storage = apply_strategy(tiny_model("opt"), parse_strategy("s", {**RTN, "protect": {"components": ["mlp"]}}))
    assert storage["components"]["mlp"]["storage_bits"] == 16 * storage["components"]["mlp"]["parameters"]
    assert storage["components"]["attention"]["storage_bits"] < 16 * storage["components"]["attention"]["parameters"]


def test_mixed_precision_gives_each_component_its_bits():
    spec = {**RTN, "component_bits": {"attention": 8}}
    before = {name: p.detach().clone() for name, p in tiny_model("llama").named_parameters()}
    mixed_model, plain_model = tiny_model("llama"), tiny_model("llama")
    mixed = apply_strategy(mixed_model, parse_strategy("mixed", spec))
    plain = apply_strategy(plain_model, parse_strategy("plain", RTN))
    assert mixed["components"]["mlp"]["storage_bits"] == plain["components"]["mlp"]["storage_bits"]
    assert mixed["components"]["attention"]["storage_bits"] > plain["components"]["attention"]["storage_bits"]
    error = {}
    for label, model in (("mixed", mixed_model), ("plain", plain_model)):
        params = {name: p.detach() for name, p in model.named_parameters()}
        error[label] = float(
            (params["model.layers.0.self_attn.q_proj.weight"] - before["model.layers.0.self_attn.q_proj.weight"])
            .abs()
            .max()
        )
    assert error["mixed"] < error["plain"] / 4


@pytest.mark.parametrize(
    ("family", "protect", "fragment"),
    [
        ("gpt2", {"layers": [3]}, "layer 3 is out of range for a model with 3 blocks (valid -3..2)"),
        ("gpt2", {"layers": [-4]}, "layer -4 is out of range"),
        ("llama", {"components": ["position_embedding"]}, "protects component 'position_embedding'"),
        ("llama", {"heads": [{"layer": 0, "heads": [2]}]}, "head 2 is out of range for a model with 2 heads"),
        ("llama", {"heads": [{"layer": 5, "heads": [0]}]}, "heads layer 5 is out of range"),
    ],
)
def test_a_rule_that_does_not_fit_the_model_is_one_clear_line(family, protect, fragment):
    with pytest.raises(QuantFairnessError) as error:
        apply_strategy(tiny_model(family), parse_strategy("bad", {**SEED, "protect": protect}))
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_protecting_an_untargeted_component_is_refused():
    with pytest.raises(QuantFairnessError, match="protects component 'embedding'"):
        apply_strategy(tiny_model("llama"), parse_strategy("bad", {**RTN, "protect": {"components": ["embedding"]}}))


@pytest.mark.parametrize(
    ("protect", "fragment"),
    [
        ({"top_percent": 101}, "top_percent 101 must be a number in [0, 100]"),
        ({"top_percent": -1}, "top_percent -1"),
        ({"depths": [1.5]}, "protect.depths value 1.5"),
        ({"components": ["wings"]}, "protect component 'wings'"),
        ({"everything": True}, "protect key 'everything'"),
        ({"salience": {"method": "vibes", "top_percent": 1}}, "protect.salience.method 'vibes'"),
        ({"salience": {"method": "gradient"}}, "needs method and top_percent"),
        ({"heads": [{"layer": 0}]}, "protect.heads entry"),
    ],
)
def test_bad_protect_spec_is_one_clear_line(protect, fragment):
    with pytest.raises(QuantFairnessError) as error:
        parse_strategy("bad", {**SEED, "protect": protect})
    assert fragment in str(error.value) and "\n" not in str(error.value)


def _calibration_rows():
    texts = {
        "en": ["In the beginning God created the heaven.", "And the earth was without form."],
        "he": ["בראשית ברא אלהים את השמים", "והארץ היתה תהו ובהו"],
        "ar": ["في البدء خلق الله السماوات والأرض", "وكانت الأرض خربة وخالية"],
    }
    return [{"id": str(i), "lang": lang, "text": text} for lang, items in texts.items() for i, text in enumerate(items)]


@pytest.mark.parametrize("method", ["gradient", "fisher", "activation"])
def test_salience_masks_select_the_requested_share_and_are_kept_exactly(method):
    groups = {"high": ["en"], "low": ["he", "ar"]}
    spec = {**SEED, "protect": {"salience": {"method": method, "languages": "low", "top_percent": 5, "segments": 2}}}
    strategy = parse_strategy("guided", spec)
    model = tiny_model("gpt2")
    indices, shares = salience_mask(model, tiny_tokenizer(), _calibration_rows(), strategy, groups, 256)
    again, _ = salience_mask(tiny_model("gpt2"), tiny_tokenizer(), _calibration_rows(), strategy, groups, 256)
    assert indices.keys() == again.keys() and all(torch.equal(indices[k], again[k]) for k in indices)
    total = sum(w.numel for w in targeted_weights(model, strategy))
    selected = sum(int(i.numel()) for i in indices.values())
    assert selected == pytest.approx(0.05 * total, abs=3)
    assert {row["lang"] for row in shares} == {"he", "ar"}
    for lang in ("he", "ar"):
        assert sum(row["share"] for row in shares if row["lang"] == lang) == pytest.approx(1.0)
    reference = {name: p.detach().clone() for name, p in model.named_parameters()}
    storage = apply_strategy(model, strategy, salience_indices=indices)
    params = dict(model.named_parameters())
    for name, flat in indices.items():
        assert torch.equal(params[name].flatten()[flat.long()], reference[name].flatten()[flat.long()])
    assert storage["protected_parameters"] == selected


def test_contrast_salience_differs_from_low_only():
    groups = {"high": ["en"], "low": ["he", "ar"]}
    masks = {}
    for languages in ("low", "contrast"):
        salience = {"method": "gradient", "languages": languages, "top_percent": 5, "segments": 2}
        spec = {**SEED, "protect": {"salience": salience}}
        masks[languages], _ = salience_mask(
            tiny_model("llama"), tiny_tokenizer(), _calibration_rows(), parse_strategy("g", spec), groups, 256
        )
    assert any(not torch.equal(masks["low"][k], masks["contrast"].get(k, torch.tensor([]))) for k in masks["low"])


def test_salience_strategy_without_its_mask_is_refused():
    spec = {**SEED, "protect": {"salience": {"method": "gradient", "top_percent": 5}}}
    with pytest.raises(QuantFairnessError, match="no salience mask was given"):
        apply_strategy(tiny_model("llama"), parse_strategy("g", spec))


@pytest.mark.parametrize(("blocks", "expected"), [(12, {0, 9, 11}), (30, {0, 22, 29}), (3, {0, 2})])
def test_relative_depths_name_the_same_blocks_as_the_seed(blocks, expected):
    """Depth d = index / blocks: seed 002's GPT-2 gateway L0+L9+L11 is depths 0, 0.75, 1."""
    from quant_fairness.quantize.protection import _resolve_layers

    strategy = parse_strategy("gateway", {**SEED, "protect": {"depths": [0.0, 0.75, 1.0]}})
    assert _resolve_layers(strategy, blocks) == expected


def test_top_percent_keeps_an_exact_count_when_scores_tie():
    scores = [torch.ones(10, 10), torch.zeros(50), torch.ones(30)]
    masks = top_percent_masks(scores, 50)
    assert sum(int(m.sum()) for m in masks) == 90
    assert int(masks[0].sum()) == 90 and not masks[1].any()  # ties taken in flat order
    assert [m.shape for m in masks] == [s.shape for s in scores]


# Rows or columns of each attention projection that head 1 owns, by the architectures'
# own code (hidden 32, 2 heads of 16; Llama/Gemma 3 have one key/value head shared by both).
HEAD_1 = {
    "llama": {
        "q_proj": (0, range(16, 32)),
        "k_proj": (0, range(0, 16)),
        "v_proj": (0, range(0, 16)),
        "o_proj": (1, range(16, 32)),
    },
    "gemma3": {
        "q_proj": (0, range(16, 32)),
        "k_proj": (0, range(0, 16)),
        "v_proj": (0, range(0, 16)),
        "o_proj": (1, range(16, 32)),
    },
    "opt": {
        "q_proj": (0, range(16, 32)),
        "k_proj": (0, range(16, 32)),
        "v_proj": (0, range(16, 32)),
        "out_proj": (1, range(16, 32)),
    },
    "gpt2": {"c_attn": (1, [*range(16, 32), *range(48, 64), *range(80, 96)]), "c_proj": (0, range(16, 32))},
    "gpt_neox": {"query_key_value": (0, range(48, 96)), "dense": (1, range(16, 32))},
    "bloom": {"query_key_value": (0, range(48, 96)), "dense": (1, range(16, 32))},
}


def test_a_head_is_exactly_its_slices_of_the_projections(family_model):
    family, model = family_model
    strategy = parse_strategy("h", {**RTN, "protect": {"heads": [{"layer": -3, "heads": [1]}]}})
    masks = protection_masks(model, strategy, targeted_weights(model, strategy))
    expected = HEAD_1[family]
    assert {name.rsplit(".", 2)[-2] for name in masks} == set(expected), family
    for name, mask in masks.items():
        assert ".0." in name  # layer -3 of 3 is block 0
        axis, indices = expected[name.rsplit(".", 2)[-2]]
        want = torch.zeros_like(mask)
        want.index_fill_(axis, torch.tensor(list(indices)), True)
        assert torch.equal(mask, want), (family, name)


def test_a_salience_mask_made_for_something_else_is_refused():
    spec = {**SEED, "protect": {"salience": {"method": "gradient", "top_percent": 5}}}
    model = tiny_model("llama")
    with pytest.raises(QuantFairnessError, match="indexes outside 'model.layers.0.mlp.up_proj.weight'"):
        apply_strategy(
            model,
            parse_strategy("g", spec),
            salience_indices={"model.layers.0.mlp.up_proj.weight": torch.tensor([5, 10**6], dtype=torch.int32)},
        )
    with pytest.raises(QuantFairnessError, match="names 'transformer.h.0.attn.c_attn.weight'"):
        apply_strategy(
            model,
            parse_strategy("g", spec),
            salience_indices={"transformer.h.0.attn.c_attn.weight": torch.tensor([1], dtype=torch.int32)},
        )


def test_salience_needs_text_in_every_language_it_averages():
    spec = {
        **SEED,
        "protect": {"salience": {"method": "gradient", "languages": "low", "top_percent": 5, "segments": 2}},
    }
    rows = [row for row in _calibration_rows() if row["lang"] != "ar"]
    with pytest.raises(QuantFairnessError, match="asked for the first 2 segments of 'ar', but the split has 0"):
        salience_mask(
            tiny_model("llama"),
            tiny_tokenizer(),
            rows,
            parse_strategy("g", spec),
            {"high": ["en"], "low": ["he", "ar"]},
            256,
        )
