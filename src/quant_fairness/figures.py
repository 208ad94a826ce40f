"""Figures, drawn from result tables only (no model needed).

plot_delta_bpb({"smollm2-135m": disparity_rows}, languages, strategies, "results/figures/delta_bpb.png")
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from quant_fairness.atomic import atomic_path  # noqa: E402

# Okabe–Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
HATCHES = ["", "//", "..", "xx", "\\\\", "oo", "--", "++"]


def _series(rows, strategy, languages):
    lookup = {(r["scope"], r["metric"]): r for r in rows if r["strategy"] == strategy}
    values, errors = [], [[], []]
    for lang in languages:
        row = lookup[(lang, "delta_bpb")]
        value = float(row["value"])
        values.append(value)
        low = float(row["ci_low"]) if row["ci_low"] != "NA" else value
        high = float(row["ci_high"]) if row["ci_high"] != "NA" else value
        errors[0].append(max(value - low, 0.0))
        errors[1].append(max(high - value, 0.0))
    return values, errors


def plot_delta_bpb(rows_by_model, languages, strategies, path):
    """Per-language ΔBPB (bits/byte lost) of `strategies` with 95% bootstrap CIs, one panel per model."""
    models = sorted(rows_by_model)
    fig, axes = plt.subplots(len(models), 1, figsize=(8, 3.2 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        rows = rows_by_model[model]
        present = {r["strategy"] for r in rows}
        shown = [strategy for strategy in strategies if strategy in present]
        width = 0.8 / len(shown)
        for k, strategy in enumerate(shown):
            values, errors = _series(rows, strategy, languages)
            positions = [i + (k - (len(shown) - 1) / 2) * width for i in range(len(languages))]
            ax.bar(
                positions,
                values,
                width,
                yerr=errors,
                capsize=2,
                label=strategy,
                color=PALETTE[k % len(PALETTE)],
                hatch=HATCHES[k % len(HATCHES)],
                edgecolor="black",
                linewidth=0.4,
            )
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(range(len(languages)), languages)
        ax.set_ylabel("ΔBPB (bits/byte)")
        ax.set_title(model)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=150, metadata={"Software": None})
    plt.close(fig)
