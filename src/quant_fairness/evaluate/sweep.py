"""The layer sweep (seed 002): which decoder blocks to keep in full precision so that
quantization hurts low-resource languages no more than high-resource ones.

1. Score the original model on the selection and the test split.
2. Protect each block alone (every other weight quantized by the strategy) and compute
   the robust disparity, mean ΔBPB of the low group ÷ mean ΔBPB of the high group, on
   the selection split.
3. From the best block, greedily add the block that lowers the disparity most, until
   the set has `max_layers` blocks.
4. Re-measure the unprotected strategy and the chosen set on the test split, with paired
   bootstrap intervals: blocks chosen on the text they are judged on prove nothing.

    result = sweep(model, tokenizer, selection_rows, test_rows, strategy,
                   groups={"high": ["en", "de", "fr"], "low": ["zh", "he", "ar"]})
    result.chosen        # (0, 9, 11)
    result.single        # per block: robust disparity on the selection split, best first
    result.steps         # the greedy path on the selection split
    result.test          # unprotected vs chosen on the test split: values, CIs, difference

The seed ranked blocks by the mean over non-English languages of D%(l) / D%(en) on one
sentence each; D% is per token, so it is not comparable across tokenizers. This sweep
ranks by ΔBPB on the selection split instead.

`reuse_prefix=False` scores every candidate through the whole model (the naive sweep,
for the benchmark); the default starts each candidate at its own block from cached
hidden states (quant_fairness.evaluate.block_switch), with the same result.
"""

from dataclasses import dataclass

import numpy as np

from quant_fairness.errors import QuantFairnessError
from quant_fairness.evaluate.block_switch import BlockSwitch, capture_block_inputs, start_at_block
from quant_fairness.evaluate.score import TokenizedSplit, numerics_pair, rescore_in
from quant_fairness.stats.bootstrap import resample_indices
from quant_fairness.stats.comparison import compare_strategies
from quant_fairness.stats.disparity import (
    COLUMNS,
    DIVERGENCE_METRICS,
    check_languages,
    disparity_rows,
    strategy_metrics,
)
from quant_fairness.stats.noise_floor import floor_of, noise_floor_rows
from quant_fairness.stats.paired import paired_scores

TEST_SCOPES = ("low", "high", "all", "disparity")
NOTHING_CHOSEN = (
    "no block chosen: the robust disparity is undefined for every candidate (the high group's ΔBPB "
    "is at or below the noise floor), so no block can be said to lower it"
)
SINGLE_COLUMNS = ("model", "strategy", "rank", "layer", "robust_disparity")
STEP_COLUMNS = ("model", "strategy", "step", "layers", "robust_disparity")


def candidate_scores(switch, split, base, candidates, reuse_prefix=True, progress=None):
    """{block: score rows} for protecting `base` plus that block, for each candidate block.

    Candidates run from the last block down: the first run records the hidden states
    entering every earlier block, which are the same for every later candidate.
    """
    order = sorted(set(candidates) - set(base), reverse=True)
    results = {}
    inputs = None
    for block in order:
        switch.protect(set(base) | {block})
        if not reuse_prefix:
            results[block] = split.score(switch.model)
        elif inputs is None:
            with capture_block_inputs(switch.blocks, order[1:]) as inputs:
                results[block] = split.score(switch.model)
        else:
            with start_at_block(switch.blocks, block, inputs):
                results[block] = split.score(switch.model)
        if progress:
            progress()
    return results


def robust_disparity(baseline_rows, rows, groups, reference, noise_floor):
    """The point estimate of the robust disparity (NaN when undefined)."""
    scores = paired_scores(baseline_rows, {"candidate": rows})
    point = resample_indices(len(scores.ids), 0, 0)  # the identity row alone
    values = strategy_metrics(scores, "candidate", groups, reference, noise_floor, point)
    return float(values[("disparity", "robust_disparity")][0])


def _rank_key(value, block):
    """Lowest disparity first, undefined (NaN) last, ties by block index."""
    return (bool(np.isnan(value)), 0.0 if np.isnan(value) else value, block)


def rank_blocks(disparities):
    """Blocks by disparity ({block: value}): lowest first, undefined last, ties by index."""
    return sorted(disparities, key=lambda block: _rank_key(disparities[block], block))


def _best(disparities):
    """The block with the lowest defined disparity (ties: the lower index); None if none is defined."""
    first = rank_blocks(disparities)[0]
    return None if np.isnan(disparities[first]) else first


def set_name(strategy_name, layers):
    return f"{strategy_name}+L{','.join(str(layer) for layer in sorted(layers))}"


@dataclass(frozen=True)
class SweepResult:
    strategy: str
    single: list  # [{"layer", "robust_disparity"}], best first, on the selection split
    steps: list  # [{"layers", "robust_disparity"}], the greedy path on the selection split
    chosen: tuple
    test: list  # disparity rows of the unprotected strategy and the chosen set, test split
    difference: dict | None  # unprotected minus chosen robust disparity, paired CI, test split
    note: str = ""  # why nothing was chosen, when nothing was
    noise_floor: float = 0.0  # bits/byte: given, or measured on the selection split


def passes(blocks, max_layers, candidates=None):
    """Candidate scorings a sweep runs, plus the four whole-split scorings (for a progress bar)."""
    pool = blocks if candidates is None else min(candidates, blocks)
    return blocks + sum(pool - size for size in range(1, max_layers)) + 4


def _greedy(switch, split, first, pool, max_layers, disparity_of, reuse_prefix, progress):
    chosen = (first,)
    steps = []
    while len(chosen) < max_layers and set(pool) - set(chosen):
        scored = candidate_scores(switch, split, chosen, pool, reuse_prefix, progress)
        values = {block: disparity_of(rows) for block, rows in scored.items()}
        best = _best(values)
        if best is None:
            break
        chosen = tuple(sorted((*chosen, best)))
        steps.append({"layers": chosen, "robust_disparity": values[best]})
    return chosen, steps


def _choose(switch, selection, disparity_of, max_layers, candidates, reuse_prefix, progress):
    """(single, steps, chosen) on the selection split."""
    scored = candidate_scores(switch, selection, (), range(len(switch.blocks)), reuse_prefix, progress)
    values = {block: disparity_of(rows) for block, rows in scored.items()}
    ranked = rank_blocks(values)
    single = [{"layer": block, "robust_disparity": values[block]} for block in ranked]
    first = _best(values)
    if first is None:
        return single, [], ()
    pool = ranked[: candidates or len(ranked)]
    chosen, steps = _greedy(switch, selection, first, pool, max_layers, disparity_of, reuse_prefix, progress)
    return single, [{"layers": (first,), "robust_disparity": values[first]}, *steps], chosen


def _measure(model_name, baseline_test, measured, groups, reference, noise_floor, resamples, seed, level):
    """(test-split disparity rows, the paired difference unprotected − chosen or None).
    `measured`: {unprotected strategy: rows, chosen set: rows}, the chosen set absent when none."""
    scores = paired_scores(baseline_test, measured)
    rows = disparity_rows(model_name, scores, groups, reference, noise_floor, resamples, seed, level)
    # The chosen set is scored without the reference: both are compared on the ΔBPB metrics alone.
    kept = [row for row in rows if row["scope"] in TEST_SCOPES and row["metric"] not in DIVERGENCE_METRICS]
    if len(measured) < 2:
        return kept, None
    unprotected, chosen = measured
    comparisons, _ = compare_strategies(
        model_name, scores, groups, reference, noise_floor, resamples, seed, level, pairs=[(unprotected, chosen)]
    )
    return kept, next(row for row in comparisons if row["metric"] == "robust_disparity")


def sweep(
    model,
    tokenizer,
    selection_rows,
    test_rows,
    strategy,
    groups,
    reference="en",
    max_layers=3,
    candidates=None,
    noise_floor=None,
    resamples=1000,
    seed=0,
    level=0.95,
    batch_tokens=1024,
    reuse_prefix=True,
    progress=None,
    model_name="model",
    baseline_test=None,
    unprotected_test=None,
):
    """Run the sweep; the model's weights are restored before it returns.

    `test_rows=None` skips the test-split measurement. `candidates`: only the best this
    many single blocks are tried when extending the set (None: every block). `noise_floor`
    (bits/byte): None measures it on the selection split, the baseline rescored in the other
    of float32 and bfloat16, so that no block is ranked on a loss below it. `progress`:
    called once per scoring of a split. `baseline_test`, `unprotected_test`: score rows of
    the test split already computed (the workflow's score tables), used instead of scoring
    again.
    """
    languages = sorted({row["lang"] for row in selection_rows})
    check_languages(languages, groups, reference)
    if max_layers < 1:
        raise QuantFairnessError(f"max_layers {max_layers!r} must be at least 1")
    tick = progress or (lambda: None)
    selection = TokenizedSplit(model, tokenizer, selection_rows, batch_tokens)
    baseline_selection = selection.score(model, f"model {model_name!r}")
    if noise_floor is None:
        dtype, other = numerics_pair(model)
        floor_rows = noise_floor_rows(
            model_name, baseline_selection, rescore_in(model, selection, other), dtype, other, resamples, seed, level
        )
        noise_floor = floor_of(floor_rows)
    test = None if test_rows is None else TokenizedSplit(model, tokenizer, test_rows, batch_tokens)
    if test is not None:
        baseline_test = baseline_test or test.score(model)
    tick(), tick()

    def disparity_of(rows):
        return robust_disparity(baseline_selection, rows, groups, reference, noise_floor)

    switch = BlockSwitch(model, strategy)
    measured = {}
    try:
        single, steps, chosen = _choose(switch, selection, disparity_of, max_layers, candidates, reuse_prefix, progress)
        if test is not None:
            switch.protect(())
            measured[strategy.name] = unprotected_test or test.score(model)
            if chosen:
                switch.protect(chosen)
                measured[set_name(strategy.name, chosen)] = test.score(model)
        tick(), tick()
    finally:
        switch.restore()
    note = "" if chosen else NOTHING_CHOSEN
    if test is None:
        return SweepResult(strategy.name, single, steps, chosen, [], None, note, noise_floor)
    measured_rows, difference = _measure(
        model_name, baseline_test, measured, groups, reference, noise_floor, resamples, seed, level
    )
    return SweepResult(strategy.name, single, steps, chosen, measured_rows, difference, note, noise_floor)


def sweep_tables(model_name, result):
    """{table: (rows, columns)} of a sweep: single blocks and greedy steps (selection split),
    and the test split's disparity rows with the paired difference as a last row."""
    single = [
        {"model": model_name, "strategy": result.strategy, "rank": rank, **row}
        for rank, row in enumerate(result.single, start=1)
    ]
    steps = [
        {
            "model": model_name,
            "strategy": result.strategy,
            "step": step,
            "layers": ",".join(map(str, row["layers"])),
            "robust_disparity": row["robust_disparity"],
        }
        for step, row in enumerate(result.steps, start=1)
    ]
    difference = result.difference
    if difference is None:
        return {"single": (single, SINGLE_COLUMNS), "steps": (steps, STEP_COLUMNS), "test": (result.test, COLUMNS)}
    compared = {
        "model": model_name,
        "strategy": f"{difference['strategy']} - {difference['versus']}",
        "scope": "difference",
        "metric": "robust_disparity",
        "value": difference.get("difference"),
        "ci_low": difference.get("ci_low"),
        "ci_high": difference.get("ci_high"),
        "note": f"distinguishable: {difference.get('distinguishable', 'no')}; {difference['note']}".rstrip("; "),
    }
    return {
        "single": (single, SINGLE_COLUMNS),
        "steps": (steps, STEP_COLUMNS),
        "test": ([*result.test, compared], COLUMNS),
    }
