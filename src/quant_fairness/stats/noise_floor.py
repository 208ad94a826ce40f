"""The noise floor: how far BPB moves when only the numerics change.

The same model scores the same test segments in the evaluation dtype and in a second
dtype (float32 vs bfloat16). No weight changes, so any BPB shift is numerical noise.
The largest shift over languages is measured with a paired bootstrap over the rescored
segments, and the upper end of its interval is the floor an effect must exceed to count
as real; a ratio whose denominator is below it is undefined. The second scoring may cover
only the first segments of each language (bfloat16 is slow on CPUs without bf16 matrix
units): fewer segments give a wider interval, so the floor errs on the safe side.

    rows = noise_floor_rows("smollm2-135m", fp32_rows, bf16_rows, "float32", "bfloat16",
                            resamples=1000, seed=0, level=0.95)
    write_tsv("results/noise_floor/smollm2-135m.tsv", rows, COLUMNS)
    floor = read_noise_floor("results/noise_floor/smollm2-135m.tsv")          # bits/byte, for ΔBPB
    kld_floor = read_noise_floor("results/noise_floor/smollm2-135m.tsv", "kld")  # for KL divergence

Where the rescored table compares each segment with the reference (its kl_divergence column),
the KL divergence per byte of the second dtype from the first gets the same treatment: its
largest value over languages, bootstrapped, and the upper end as the KLD floor.
"""

import numpy as np

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.bootstrap import percentile_interval, resample_indices
from quant_fairness.stats.disparity import language_metrics
from quant_fairness.stats.paired import paired_scores
from quant_fairness.tables import read_tsv

COLUMNS = ("model", "scope", "metric", "value", "ci_low", "ci_high")
LARGEST = ("floor", "largest_shift_bpb")
FLOOR = ("floor", "noise_floor_bpb")
# The KL divergence of the second dtype's distributions from the first's, where it was measured.
LARGEST_KLD = ("floor", "largest_kld_bpb")
FLOOR_KLD = ("floor", "noise_floor_kld_bpb")
FLOORS = {"bpb": FLOOR, "kld": FLOOR_KLD}


def _row(model, scope, metric, series, level):
    row = {"model": model, "scope": scope, "metric": metric, "value": float(series[0])}
    interval = percentile_interval(series[1:], level) if len(series) > 1 else None
    if interval is not None:
        row["ci_low"], row["ci_high"] = interval
    return row


def noise_floor_rows(model, reference_rows, other_rows, reference_dtype, other_dtype, resamples, seed, level=0.95):
    """Per language BPB in both dtypes and its shift, the largest |shift| over languages with its
    interval, and the floor: the upper end of that interval."""
    rescored = {(row["lang"], row["id"]) for row in other_rows}
    same_segments = [row for row in reference_rows if (row["lang"], row["id"]) in rescored]
    if not same_segments:
        raise QuantFairnessError(f"the {other_dtype} scores share no segment with the {reference_dtype} baseline")
    # The second dtype plays the part of a strategy.
    scores = paired_scores(same_segments, {other_dtype: other_rows})
    index = resample_indices(len(scores.ids), resamples, seed)
    rows, shifts, divergences = [], [], []
    for lang in scores.languages:
        metrics = language_metrics(scores, other_dtype, lang, index)
        shifts.append(np.abs(metrics["delta_bpb"]))
        named = [
            ("bpb_" + reference_dtype, "bpb_baseline"),
            ("bpb_" + other_dtype, "bpb_quantized"),
            ("bpb_shift", "delta_bpb"),
        ]
        if "kld_bpb" in metrics:
            divergences.append(metrics["kld_bpb"])
            named.append(("kld_bpb", "kld_bpb"))
        rows += [_row(model, lang, metric, metrics[name], level) for metric, name in named]
    rows += _floor_rows(model, LARGEST, FLOOR, np.max(shifts, axis=0), level)
    if divergences:
        rows += _floor_rows(model, LARGEST_KLD, FLOOR_KLD, np.max(divergences, axis=0), level)
    return rows


def _floor_rows(model, largest_key, floor_key, series, level):
    """The largest effect over languages with its interval, and the floor: that interval's upper end."""
    largest = _row(model, *largest_key, series, level)
    floor = largest.get("ci_high", largest["value"])
    return [largest, {"model": model, "scope": floor_key[0], "metric": floor_key[1], "value": floor}]


def floor_of(rows, kind="bpb"):
    """The floor (bits/byte) among noise-floor rows: of ΔBPB ("bpb") or of KL divergence ("kld");
    a table without a KLD floor (no reference was compared) has a KLD floor of 0."""
    for row in rows:
        if (row["scope"], row["metric"]) == FLOORS[kind]:
            return float(row["value"])
    if kind == "kld":
        return 0.0
    raise QuantFairnessError(f"no {FLOOR[0]}/{FLOOR[1]} row: expected the rows of noise_floor_rows")


def read_noise_floor(path, kind="bpb"):
    """The floor (bits/byte) from a noise-floor table, of ΔBPB ("bpb") or of KL divergence ("kld")."""
    try:
        return floor_of(read_tsv(path), kind)
    except QuantFairnessError:
        raise QuantFairnessError(
            f"{path} has no {FLOOR[0]}/{FLOOR[1]} row: expected a table from the noise_floor rule"
        ) from None
