"""Seed 000's artifact-size tables, regenerated from the sizes of real files on disk, and
the measured effect of each artifact rebuilt from its files.

    rows = size_rows("smollm2-135m", parameters, {"fp32": ("", [path]), "fp16": ("", [path]),
                     "int4": ("seed_absmax_int4", [int4]), "fair int4 (seed_keep5)": ("seed_keep5", [int4, patch])})
    effects = effect_rows("smollm2-135m", scores, groups, "en", noise_floor, resamples=1000, seed=0)

Sizes are bytes as the filesystem reports them (headers and metadata included); bits per
parameter divide them by the model's parameter count, so they can be set beside the
storage accounting of each strategy.
"""

import os

from quant_fairness.disparity import disparity_rows

SIZE_COLUMNS = (
    "model",
    "artifact",
    "strategy",
    "files",
    "bytes",
    "megabytes",
    "bits_per_parameter",
    "vs_fp32",
    "vs_fp16",
    "vs_int4",
)
EFFECT_COLUMNS = ("model", "artifact", "scope", "metric", "value", "ci_low", "ci_high", "note")
EFFECT_METRICS = ("delta_bpb", "mean_delta_bpb", "robust_disparity")


def size_rows(model, parameters, artifacts):
    """One row per artifact ({label: (strategy, [file paths])}, in table order, with the labels
    fp32, fp16 and int4), its size from its files and as a ratio to each of those three: a
    fair INT4 model's vs_int4 - 1 is the seed's "overhead of fairness"."""
    sizes = {label: sum(os.path.getsize(path) for path in paths) for label, (_, paths) in artifacts.items()}
    rows = []
    for label, (strategy, paths) in artifacts.items():
        size = sizes[label]
        rows.append(
            {
                "model": model,
                "artifact": label,
                "strategy": strategy,
                "files": ";".join(
                    os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path) for path in paths
                ),
                "bytes": size,
                "megabytes": size / 1e6,
                "bits_per_parameter": 8 * size / parameters,
                "vs_fp32": size / sizes["fp32"],
                "vs_fp16": size / sizes["fp16"],
                "vs_int4": size / sizes["int4"],
            }
        )
    return rows


def effect_rows(model, scores, groups, reference, noise_floor, resamples, seed, level=0.95):
    """ΔBPB per language and group, and the robust disparity, of each artifact's scores."""
    rows = disparity_rows(model, scores, groups, reference, noise_floor, resamples, seed, level)
    return [{"artifact": row["strategy"], **row} for row in rows if row["metric"] in EFFECT_METRICS]
