"""Figures, drawn from result tables only (no model needed). Every figure uses the Okabe–Ito
palette plus a marker or hatch per series, so it reads for colour-blind readers and in
greyscale print.

    plot_delta_bpb({"smollm2-135m": disparity_rows}, languages, strategies, "results/figures/delta_bpb.png")
    plot_divergence({"smollm2-135m": disparity_rows}, languages, strategies, "results/figures/divergence.png")
    plot_calibration({"smollm2-135m": calibration_rows}, "results/figures/calibration.png")
    plot_preservation({"smollm2-135m": (points, disparity_rows)}, "results/figures/preservation.png")
    plot_layer_sweep({"smollm2-135m": (single_rows, step_rows)}, "results/figures/layer_sweep.png")
    plot_pareto({"smollm2-135m": (bits_per_weight, disparity_rows)}, "results/figures/pareto.png")
    plot_resource_scatter({"smollm2-135m": (disparity_rows, correlation_rows, strategy)}, levels, path)
    plot_language_spectrum({"smollm2-135m": (disparity_rows, strategy)}, language_rows, path)
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from quant_fairness.atomic import atomic_path  # noqa: E402
from quant_fairness.report.findings import pareto_front  # noqa: E402

# Okabe–Ito: distinguishable with the common colour-vision deficiencies and in greyscale print.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
HATCHES = ["", "//", "..", "xx", "\\\\", "oo", "--", "++"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]
DPI = 200


def _style(k):
    return {"color": PALETTE[k % len(PALETTE)], "marker": MARKERS[k % len(MARKERS)]}


def _value(row):
    """(value, lower error, upper error) of a table row; None where the value is undefined."""
    if row is None or row["value"] == "NA":
        return None
    value = float(row["value"])
    low = float(row["ci_low"]) if row.get("ci_low", "NA") != "NA" else value
    high = float(row["ci_high"]) if row.get("ci_high", "NA") != "NA" else value
    return value, max(value - low, 0.0), max(high - value, 0.0)


def _lookup(rows, strategy):
    return {(r["scope"], r["metric"]): r for r in rows if r["strategy"] == strategy}


def _save(fig, path):
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=DPI, metadata={"Software": None})
    plt.close(fig)


def _language_bars(ax, rows, languages, strategies, metric, scale=1.0):
    """Bars of `metric` per language for each of `strategies` that the rows hold a value of, with
    their bootstrap CIs (values multiplied by `scale`)."""
    present = {r["strategy"] for r in rows if r["metric"] == metric}
    shown = [strategy for strategy in strategies if strategy in present]
    if not shown:
        ax.text(0.5, 0.5, f"no headline strategy has {metric} on this model", ha="center", transform=ax.transAxes)
    width = 0.8 / max(len(shown), 1)
    for k, strategy in enumerate(shown):
        lookup = _lookup(rows, strategy)
        points = [_value(lookup[(lang, metric)]) for lang in languages]
        positions = [i + (k - (len(shown) - 1) / 2) * width for i in range(len(languages))]
        ax.bar(
            positions,
            [scale * p[0] for p in points],
            width,
            yerr=[[scale * p[1] for p in points], [scale * p[2] for p in points]],
            capsize=2,
            label=strategy,
            color=PALETTE[k % len(PALETTE)],
            hatch=HATCHES[k % len(HATCHES)],
            edgecolor="black",
            linewidth=0.4,
        )
    ax.set_xticks(range(len(languages)), languages)


def _legend_on_top(fig, axes):
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=max(len(labels), 1), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.3 / fig.get_figheight()))


def plot_delta_bpb(rows_by_model, languages, strategies, path):
    """Per-language ΔBPB (bits/byte lost) of `strategies` with bootstrap CIs, one panel per model."""
    models = sorted(rows_by_model)
    fig, axes = plt.subplots(len(models), 1, figsize=(8, 3.2 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        _language_bars(ax, rows_by_model[model], languages, strategies, "delta_bpb")
        ax.set_yscale("symlog", linthresh=1e-3)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_ylabel("ΔBPB (bits/byte)")
        ax.set_title(model)
    _legend_on_top(fig, axes)
    _save(fig, path)


def plot_divergence(rows_by_model, languages, strategies, path):
    """Per-language KL divergence from the reference (bits/byte, log axis) and top-1 agreement (%)
    of `strategies`, with bootstrap CIs: one row of two panels per model."""
    models = sorted(rows_by_model)
    fig, axes = plt.subplots(len(models), 2, figsize=(11, 3.2 * len(models)), squeeze=False)
    for (kld_ax, agree_ax), model in zip(axes, models, strict=True):
        rows = rows_by_model[model]
        _language_bars(kld_ax, rows, languages, strategies, "kld_bpb")
        kld_ax.set_yscale("log")
        kld_ax.set_ylabel("KLD (bits/byte)")
        kld_ax.set_title(f"{model}: divergence from the reference")
        _language_bars(agree_ax, rows, languages, strategies, "top1_agreement", scale=100)
        agree_ax.set_ylim(0, 100)
        agree_ax.set_ylabel("top-1 agreement (%)")
        agree_ax.set_title(f"{model}: same most probable token")
    _legend_on_top(fig, axes)
    _save(fig, path)


def _errorbar(ax, xs, points, k, label):
    """Defined points with their intervals; undefined ones are left out of the line."""
    shown = [(x, p) for x, p in zip(xs, points, strict=True) if p is not None]
    if not shown:
        return
    ax.errorbar(
        [x for x, _ in shown],
        [p[0] for _, p in shown],
        yerr=[[p[1] for _, p in shown], [p[2] for _, p in shown]],
        capsize=3,
        label=label,
        **_style(k),
    )


def plot_preservation(points_by_model, path):
    """Disparity against the share of weights kept (k%), under the seed protocol (D%) and the
    robust one (ΔBPB): `points_by_model` = {model: ([(k, strategy)], disparity_rows)}."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    if not points_by_model:
        fig.text(
            0.5, 0.5, "No preservation curve: no model ran k% protection beside its unprotected base.", ha="center"
        )
    panels = (
        ("seed_disparity", "D% disparity (log axis)"),
        ("robust_disparity", "robust disparity (ΔBPB)"),
    )
    for ax, (metric, label) in zip(axes, panels, strict=True):
        for k, model in enumerate(sorted(points_by_model)):
            points, rows = points_by_model[model]
            values = [_value(_lookup(rows, strategy).get(("disparity", metric))) for _, strategy in points]
            _errorbar(ax, [share for share, _ in points], values, k, model)
        if points_by_model:
            ax.legend(fontsize=8, frameon=False)
        ax.axhline(1, color="black", linewidth=0.6, linestyle=":")
        ax.set_xlabel("weights kept in FP16 (k%, by magnitude)")
        ax.set_ylabel(label)
        if metric == "seed_disparity":
            ax.set_yscale("log")
    fig.tight_layout()
    _save(fig, path)


def plot_layer_sweep(sweeps_by_model, path):
    """Robust disparity on the selection split with each block protected alone; the blocks
    the greedy search chose are hatched. `sweeps_by_model` = {model: (single_rows, step_rows)}."""
    models = sorted(sweeps_by_model)
    fig, axes = plt.subplots(len(models), 1, figsize=(8, 2.8 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        single, steps = sweeps_by_model[model]
        chosen = {int(layer) for layer in steps[-1]["layers"].split(",")} if steps else set()
        by_layer = sorted((int(r["layer"]), r["robust_disparity"]) for r in single)
        defined = [(layer, float(value)) for layer, value in by_layer if value != "NA"]
        colours = [PALETTE[1] if layer in chosen else PALETTE[0] for layer, _ in defined]
        hatches = [HATCHES[1] if layer in chosen else "" for layer, _ in defined]
        bars = ax.bar([layer for layer, _ in defined], [value for _, value in defined], color=colours)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
            bar.set_edgecolor("black")
            bar.set_linewidth(0.4)
        values = [value for _, value in defined]
        if values:
            ax.set_ylim(min(values) - 0.1 * (max(values) - min(values) or 1), None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("decoder block protected (all others quantized)")
        ax.set_ylabel("robust disparity")
        ax.set_title(f"{model}: chosen {', '.join(map(str, sorted(chosen))) or 'none'} (hatched)")
    fig.tight_layout()
    _save(fig, path)


def plot_pareto(costs_by_model, path):
    """Robust disparity against bits per weight for every strategy, with the Pareto frontier:
    `costs_by_model` = {model: ({strategy: bits_per_weight}, disparity_rows)}."""
    models = sorted(costs_by_model)
    fig, axes = plt.subplots(1, len(models), figsize=(4.8 * len(models), 4), squeeze=False)
    for ax, model in zip(axes[0], models, strict=True):
        bits, rows = costs_by_model[model]
        points = []
        for k, strategy in enumerate(sorted(bits)):
            value = _value(_lookup(rows, strategy).get(("disparity", "robust_disparity")))
            if value is None:
                continue
            points.append((bits[strategy], value[0], strategy))
            ax.errorbar(bits[strategy], value[0], yerr=[[value[1]], [value[2]]], capsize=2, **_style(k))
            ax.annotate(strategy, (bits[strategy], value[0]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        front = pareto_front(points)
        ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", linewidth=0.8)
        ax.set_xlabel("bits per weight (scales, zero points, kept weights included)")
        ax.set_ylabel("robust disparity (lower is fairer)")
        ax.set_title(model)
    fig.tight_layout()
    _save(fig, path)


def plot_resource_scatter(rows_by_model, resource_levels, path):
    """ΔBPB per language of each model's headline strategy against each resource scale and the
    baseline BPB, the language codes as labels and the Pearson r of the correlation table in
    each title. `rows_by_model` = {model: (disparity_rows, correlation_rows, strategy)}."""
    models = sorted(rows_by_model)
    predictors = [f"resource_{scale}" for scale in sorted(resource_levels)] + ["baseline_bpb"]
    fig, axes = plt.subplots(
        len(models), len(predictors), figsize=(4.2 * len(predictors), 3.4 * len(models)), squeeze=False
    )
    for row_axes, model in zip(axes, models, strict=True):
        rows, correlation, strategy = rows_by_model[model]
        lookup = _lookup(rows, strategy)
        languages = [scope for scope, metric in lookup if metric == "delta_bpb"]
        values = {f"resource_{scale}": levels for scale, levels in resource_levels.items()}
        values["baseline_bpb"] = {lang: float(lookup[(lang, "bpb_baseline")]["value"]) for lang in languages}
        r_of = {
            c["predictor"]: c
            for c in correlation
            if c["strategy"] == strategy and c["metric"] == "delta_bpb" and c["method"] == "pearson"
        }
        for k, (ax, predictor) in enumerate(zip(row_axes, predictors, strict=True)):
            langs = [lang for lang in languages if lang in values[predictor]]
            xs = [values[predictor][lang] for lang in langs]
            ys = [float(lookup[(lang, "delta_bpb")]["value"]) for lang in langs]
            ax.scatter(xs, ys, **_style(k))
            for lang, x, y in zip(langs, xs, ys, strict=True):
                ax.annotate(lang, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            ax.set_xlabel(predictor.replace("_", " "))
            ax.set_ylabel(f"ΔBPB under {strategy}")
            ax.set_title(f"{model}: {_r_label(r_of.get(predictor))}", fontsize=9)
    fig.tight_layout()
    _save(fig, path)


def _r_label(row):
    if row is None or row["value"] == "NA":
        return "r undefined"
    interval = "CI undefined" if row["ci_low"] == "NA" else f"[{float(row['ci_low']):.2f}, {float(row['ci_high']):.2f}]"
    p_value = "" if row["p_value"] == "NA" else f", p = {float(row['p_value']):.2g}"
    return f"r = {float(row['value']):.2f} {interval}{p_value}"


def plot_calibration(tables_by_model, path):
    """Per language and group, how much more (above 0) or less each calibration setting loses than
    the same quantizer calibrated on every language: ΔBPB differences with their family-wise
    intervals, one panel per model. `tables_by_model` = {model: rows of its calibration table}."""
    models = sorted(tables_by_model)
    fig, axes = plt.subplots(len(models), 1, figsize=(9, 3.4 * len(models)), squeeze=False)
    for ax, model in zip(axes[:, 0], models, strict=True):
        rows = tables_by_model[model]
        if not rows:
            ax.text(0.5, 0.5, "no calibration settings run on this model", ha="center", transform=ax.transAxes)
        scopes = list(dict.fromkeys(row["scope"] for row in rows))
        settings = list(dict.fromkeys(row["strategy"] for row in rows))
        width = 0.8 / max(len(settings), 1)
        for k, setting in enumerate(settings):
            by_scope = {row["scope"]: row for row in rows if row["strategy"] == setting}
            points = [
                _value(
                    {
                        **by_scope[scope],
                        "value": by_scope[scope]["difference"],
                        "ci_low": by_scope[scope]["family_low"],
                        "ci_high": by_scope[scope]["family_high"],
                    }
                )
                for scope in scopes
            ]
            shown = [(i, p) for i, p in enumerate(points) if p is not None]
            ax.bar(
                [i + (k - (len(settings) - 1) / 2) * width for i, _ in shown],
                [p[0] for _, p in shown],
                width,
                yerr=[[p[1] for _, p in shown], [p[2] for _, p in shown]],
                capsize=2,
                label=f"{setting} − {next(iter(by_scope.values()))['versus']}",
                color=PALETTE[k % len(PALETTE)],
                hatch=HATCHES[k % len(HATCHES)],
                edgecolor="black",
                linewidth=0.4,
            )
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(range(len(scopes)), scopes)
        ax.set_ylabel("ΔBPB difference (bits/byte)")
        ax.set_title(f"{model}: each calibration setting against calibrating on every language")
        if settings:
            ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    _save(fig, path)


def _script_style(scripts):
    """{script: (colour, hatch)}: a colour per script, and a hatch once the colours run out."""
    return {
        script: (PALETTE[k % len(PALETTE)], HATCHES[(k // len(PALETTE)) % len(HATCHES)])
        for k, script in enumerate(sorted(scripts))
    }


def _sorted_bars(ax, lookup, metric, script_of, style):
    """Bars of `metric` per language, smallest first, coloured by the language's script."""
    points = sorted(
        ((lang, point) for (lang, name), row in lookup.items() if name == metric and (point := _value(row))),
        key=lambda item: (item[1][0], item[0]),
    )
    for i, (lang, (value, low, high)) in enumerate(points):
        colour, hatch = style[script_of[lang]]
        ax.bar(
            i,
            value,
            0.8,
            yerr=[[low], [high]],
            capsize=1.5,
            color=colour,
            hatch=hatch,
            edgecolor="black",
            linewidth=0.4,
            error_kw={"linewidth": 0.6, "ecolor": "grey"},  # visible on the palette's black bars too
        )
    ax.set_xticks(range(len(points)), [lang for lang, _ in points], rotation=90, fontsize=7)
    ax.set_xlim(-0.6, max(len(points), 1) - 0.4)
    return bool(points)


def plot_language_spectrum(rows_by_model, language_rows, path):
    """Every language's ΔBPB (and KLD where scored) under each model's headline strategy, sorted,
    each bar coloured by the language's script, with bootstrap CIs: two panels per model, one
    above the other. `rows_by_model` = {model: (disparity_rows, strategy)};
    `language_rows`: results/corpus/languages.tsv."""
    models = sorted(rows_by_model)
    script_of = {row["lang"]: row["script"] for row in language_rows}
    style = _script_style(set(script_of.values()))
    columns = 10
    fig, axes = plt.subplots(
        2 * len(models), 1, figsize=(max(8.0, 0.2 * len(script_of) + 2), 2.6 * 2 * len(models)), squeeze=False
    )
    for k, model in enumerate(models):
        delta_ax, kld_ax = axes[2 * k, 0], axes[2 * k + 1, 0]
        rows, strategy = rows_by_model[model]
        lookup = {key: row for key, row in _lookup(rows, strategy).items() if key[0] in script_of}
        _sorted_bars(delta_ax, lookup, "delta_bpb", script_of, style)
        delta_ax.axhline(0, color="black", linewidth=0.6)
        delta_ax.set_ylabel("ΔBPB (bits/byte)")
        delta_ax.set_title(f"{model}: ΔBPB under {strategy}, languages sorted", fontsize=9)
        if _sorted_bars(kld_ax, lookup, "kld_bpb", script_of, style):
            kld_ax.set_yscale("log")
        else:
            kld_ax.text(0.5, 0.5, f"no KLD scored for {strategy}", ha="center", transform=kld_ax.transAxes)
        kld_ax.set_ylabel("KLD (bits/byte)")
        kld_ax.set_title(f"{model}: divergence from the reference under {strategy}, languages sorted", fontsize=9)
    handles = [
        plt.Rectangle((0, 0), 1, 1, facecolor=colour, hatch=hatch, edgecolor="black", linewidth=0.4)
        for colour, hatch in style.values()
    ]
    fig.legend(
        handles,
        list(style),
        loc="upper center",
        ncol=min(len(style), columns),
        fontsize=7,
        frameon=False,
        title="script (ISO 15924)",
        title_fontsize=7,
    )
    legend_rows = -(-len(style) // columns)
    fig.tight_layout(rect=(0, 0, 1, 1 - (0.3 + 0.16 * legend_rows) / fig.get_figheight()))
    _save(fig, path)


# The figures drawn per language from the disparity tables, by the name of their rule's figure.
PER_LANGUAGE_FIGURES = {"delta_bpb": plot_delta_bpb, "divergence": plot_divergence}
