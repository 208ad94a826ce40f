"""The noise floor: how far BPB moves when only the numerics change.

The same model scores the same test segments in the evaluation dtype and in a second
dtype (float32 vs bfloat16). No weight changes, so any BPB shift is numerical noise;
the largest shift over languages is the floor an effect must exceed to count as real,
and a ratio whose denominator is below it is undefined. The second scoring may cover
only the first segments of each language (bfloat16 is slow on CPUs without bf16
matrix units); the floor then compares the two dtypes on those segments, and a shift
averaged over fewer tokens tends to be larger, so the floor errs on the safe side.

    rows = noise_floor_rows("smollm2-135m", fp32_rows, bf16_rows, "float32", "bfloat16")
    write_tsv("results/noise_floor/smollm2-135m.tsv", rows, COLUMNS)
    floor = read_noise_floor("results/noise_floor/smollm2-135m.tsv")
"""

from quant_fairness.errors import QuantFairnessError
from quant_fairness.stats.bootstrap import resample_indices
from quant_fairness.stats.disparity import language_metrics
from quant_fairness.stats.paired import paired_scores
from quant_fairness.tables import read_tsv

COLUMNS = ("model", "scope", "metric", "value")
FLOOR = ("floor", "noise_floor_bpb")


def noise_floor_rows(model, reference_rows, other_rows, reference_dtype, other_dtype):
    """Per language BPB in both dtypes and its shift, then the floor: the largest |shift|."""
    rescored = {(row["lang"], row["id"]) for row in other_rows}
    same_segments = [row for row in reference_rows if (row["lang"], row["id"]) in rescored]
    if not same_segments:
        raise QuantFairnessError(f"the {other_dtype} scores share no segment with the {reference_dtype} baseline")
    scores = paired_scores(same_segments, {other_dtype: other_rows})
    # The second dtype plays the part of a strategy; the point estimate is all we need.
    every_segment = resample_indices(len(scores.ids), 0, 0)
    rows, shifts = [], []
    for lang in scores.languages:
        metrics = language_metrics(scores, other_dtype, lang, every_segment)
        shifts.append(abs(metrics["delta_bpb"][0]))
        for metric, name in [
            ("bpb_" + reference_dtype, "bpb_baseline"),
            ("bpb_" + other_dtype, "bpb_quantized"),
            ("bpb_shift", "delta_bpb"),
        ]:
            rows.append({"model": model, "scope": lang, "metric": metric, "value": float(metrics[name][0])})
    rows.append({"model": model, "scope": FLOOR[0], "metric": FLOOR[1], "value": float(max(shifts))})
    return rows


def read_noise_floor(path):
    """The floor (bits/byte) from a noise-floor table."""
    for row in read_tsv(path):
        if (row["scope"], row["metric"]) == FLOOR:
            return float(row["value"])
    raise QuantFairnessError(f"{path} has no {FLOOR[0]}/{FLOOR[1]} row: expected a table from the noise_floor rule")
