"""Seed 000's artifact-size tables, regenerated from the sizes of real files on disk, and
the measured effect of each artifact rebuilt from its files.

    catalogue = artifact_catalogue(settings, model_dir, fp16, int8_dir, int4_dir, patches, corrections)
    rows = size_rows("smollm2-135m", parameters, catalogue)     # {label: (strategy, [files])}
    scores = paired_scores(baseline_rows, artifact_scores(int4_scores, simulated_scores, rebuilt_scores))
    effects = effect_rows("smollm2-135m", scores, groups, "en", noise_floor, resamples=1000, seed=0)

Sizes are bytes as the filesystem reports them (headers and metadata included); bits per
parameter divide them by the model's parameter count, so they can be set beside the
storage accounting of each strategy.
"""

import os
from pathlib import Path

from quant_fairness.artifacts.fairness_patch import PATCH_FILE
from quant_fairness.artifacts.low_rank import corrected_label
from quant_fairness.artifacts.packing import PACKED_FILE
from quant_fairness.stats.disparity import disparity_rows
from quant_fairness.tables import read_scores

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
EFFECT_METRICS = ("delta_bpb", "mean_delta_bpb", "robust_disparity", "kld_bpb", "mean_kld_bpb", "mean_top1_agreement")


def artifact_catalogue(settings, model_dir, fp16_file, int8_dir, int4_dir, patch_dirs, correction_files):
    """{label: (strategy, [files])} of every artifact of a model, in table order: the prepared
    model (fp32), its FP16 copy, the packed INT8 and INT4 models, each patch alone and with
    the INT4 model, each low-rank correction alone and with it. `settings` is the config's
    `artifacts` section; patches and corrections follow its `fair` and `low_rank_ranks`."""
    int4, int4_file = settings["int4"], f"{int4_dir}/{PACKED_FILE}"
    catalogue = {
        "fp32": ("", sorted(str(path) for path in Path(model_dir).glob("*.safetensors"))),
        "fp16": ("", [fp16_file]),
        "int8": (settings["int8"], [f"{int8_dir}/{PACKED_FILE}"]),
        "int4": (int4, [int4_file]),
    }
    for name, patch in zip(settings["fair"], patch_dirs, strict=True):
        catalogue[f"patch ({name})"] = (name, [f"{patch}/{PATCH_FILE}"])
        catalogue[f"fair int4 ({name})"] = (name, [int4_file, f"{patch}/{PATCH_FILE}"])
    for rank, correction in zip(settings["low_rank_ranks"], correction_files, strict=True):
        catalogue[f"low-rank r{rank}"] = (int4, [correction])
        catalogue[corrected_label(rank)] = (int4, [int4_file, correction])
    return catalogue


def artifact_scores(int4_scores, simulated_scores, rebuilt_scores):
    """{label: score rows}: the simulated INT4 strategy and the simulated fair strategies
    ("<strategy> (simulated)"), and each model rebuilt from artifact files, labelled as its
    score table's strategy column says."""
    scored = {"int4 (simulated)": read_scores(int4_scores)}
    for path in simulated_scores:
        scored[f"{Path(path).stem} (simulated)"] = read_scores(path)
    for path in rebuilt_scores:
        rows = read_scores(path)
        scored[rows[0]["strategy"]] = rows
    return scored


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


def effect_rows(model, scores, groups, reference, noise_floor, resamples, seed, level=0.95, kld_floor=0.0):
    """ΔBPB per language and group, the robust disparity, and the KL divergence from the reference
    and top-1 agreement, of each artifact's scores."""
    rows = disparity_rows(model, scores, groups, reference, noise_floor, resamples, seed, level, kld_floor)
    return [{"artifact": row["strategy"], **row} for row in rows if row["metric"] in EFFECT_METRICS]
