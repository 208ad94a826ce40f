"""The weight universe accounts for every parameter once, on every architecture family, and
puts each strategy's protected weights where its rule says."""

import pytest

from quant_fairness.artifacts.universe import protected_rows, universe_rows
from quant_fairness.data.layers import lm_head_is_tied
from quant_fairness.quantize.strategies import parse_strategy


def test_every_parameter_is_counted_once(family_model):
    family, model = family_model
    rows = universe_rows(family, model)
    unique = sum(p.numel() for p in model.parameters())  # named_parameters drops a tied duplicate
    assert sum(row["parameters"] for row in rows) == unique
    assert sum(row["share_pct"] for row in rows) == pytest.approx(100.0)
    tied_note = any(row["note"] for row in rows)
    assert tied_note == lm_head_is_tied(model)
    layers = {row["layer"] for row in rows if row["component"] in ("attention", "mlp")}
    assert layers == set(range(3))  # the tiny models have 3 blocks


def test_protected_weights_fall_where_the_rule_says(family_model):
    family, model = family_model
    strategies = [
        parse_strategy("layer_last", {"quantizer": "seed_absmax", "protect": {"layers": [-1]}}),
        parse_strategy("keep5", {"quantizer": "seed_absmax", "protect": {"top_percent": 5}}),
        parse_strategy("plain", {"quantizer": "rtn", "bits": 4, "group_size": 16}),
    ]
    rows = protected_rows(family, model, strategies, salience={})
    assert {row["strategy"] for row in rows} == {"layer_last", "keep5"}  # `plain` protects nothing
    for row in rows:
        if row["strategy"] == "layer_last":
            assert row["protected"] == (row["parameters"] if row["layer"] == 2 else 0), row
    keep5 = [row for row in rows if row["strategy"] == "keep5"]
    targeted = sum(row["parameters"] for row in keep5)
    assert sum(row["protected"] for row in keep5) == round(0.05 * targeted)
    assert all(0 <= row["protected_pct"] <= 100 for row in rows)
