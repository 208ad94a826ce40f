"""The run's report: result tables injected into a jinja2 Markdown template, rendered by
pandoc to one self-contained HTML file (figures embedded, nothing fetched).

    context = report_context(disparity_tables, storage_files, corpus_stats, model_dirs, config, statistics)
    render_report("report/report.md.j2", context, "results/figures", "results/report/report.html")
"""

import hashlib
import json
import subprocess
from pathlib import Path

import jinja2
import yaml

from quant_fairness.atomic import atomic_path
from quant_fairness.config import experiment_models, headline_strategies
from quant_fairness.noise_floor import read_noise_floor
from quant_fairness.provenance import read_provenance
from quant_fairness.tables import read_tsv


def number(value, digits=3):
    """Compact, fixed-rule formatting for report tables; NA stays NA."""
    if value in (None, "", "NA"):
        return "NA"
    value = float(value)
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.{digits - 1}e}"
    return f"{value:.{digits}g}" if abs(value) >= 1 else f"{value:.{digits}f}"


def with_ci(row, digits=3):
    """ "value [low, high]" of a table row, read from a TSV ("NA") or built in memory (keys absent)."""
    if row.get("value", "NA") in ("NA", None):
        return "undefined"
    if row.get("ci_low", "NA") in ("NA", None):
        return f"{number(row['value'], digits)} (CI undefined)"
    return f"{number(row['value'], digits)} [{number(row['ci_low'], digits)}, {number(row['ci_high'], digits)}]"


def git_version(root):
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"], cwd=root, capture_output=True, text=True
        )
    except OSError:  # no git on this machine
        return "unversioned"
    return result.stdout.strip() or "unversioned"


def config_hash(config):
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:12]


def _model_section(rows, languages, reference, storage):
    lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in rows}
    strategies = sorted({r["strategy"] for r in rows})
    first = strategies[0]
    baseline = [
        {
            "lang": lang,
            "bpb": number(lookup[(first, lang, "bpb_baseline")]["value"], 4),
            "ppl": number(lookup[(first, lang, "ppl_baseline")]["value"], 4),
        }
        for lang in languages
    ]
    per_language = []
    for lang in languages:
        cells = []
        for strategy in strategies:
            ratio_row = lookup.get((strategy, lang, "delta_bpb_ratio_vs_" + reference))
            cells.append(
                {
                    "delta_bpb": with_ci(lookup[(strategy, lang, "delta_bpb")]),
                    "degradation_pct": number(lookup[(strategy, lang, "degradation_pct")]["value"]),
                    "ratio": "reference" if ratio_row is None else with_ci(ratio_row),
                    "note": "" if ratio_row is None else ratio_row["note"],
                }
            )
        per_language.append({"lang": lang, "cells": cells})
    disparity = []
    for strategy in strategies:
        seed, robust = (
            lookup[(strategy, "disparity", "seed_disparity")],
            lookup[(strategy, "disparity", "robust_disparity")],
        )
        disparity.append(
            {
                "strategy": strategy,
                "bits_per_weight": number(storage[strategy]["bits_per_weight"], 4),
                "protected_pct": number(
                    100 * storage[strategy].get("protected_parameters", 0) / storage[strategy]["parameters"], 3
                ),
                "seed": with_ci(seed),
                "robust": with_ci(robust),
                "notes": "; ".join(n for n in (seed["note"], robust["note"]) if n),
            }
        )
    return {"strategies": strategies, "baseline": baseline, "per_language": per_language, "disparity": disparity}


def _experiments(config, models):
    """One table per configured experiment: each run's bits per weight, protected share, disparity."""
    by_model = {model["name"]: {row["strategy"]: row for row in model["disparity"]} for model in models}
    tables = []
    for name, plan in config["experiments"].items():
        rows = [
            {"model": model, **by_model[model][strategy]}
            for model in experiment_models(config, plan)
            if model in by_model
            for strategy in plan["strategies"]
        ]
        if rows:
            tables.append({"name": name, "rows": rows})
    return tables


def _claims(path):
    """One row per claim and model, the seed and the robust protocol side by side."""
    rows = {}
    for row in read_tsv(path):
        entry = rows.setdefault((row["claim"], row["model"]), {"claim": row["claim"], "model": row["model"]})
        entry.update(source=row["source"], sentence=row["sentence"], predicate=row["predicate"])
        entry[row["protocol"]] = row
    return list(rows.values())


def _ranking(path):
    return [{**row, "shown": with_ci(row)} for row in read_tsv(path) if row["metric"] == "robust_disparity"]


def _correlation(path, strategies):
    """ΔBPB against each predictor, for the headline strategies: Pearson and Spearman side by side."""
    table = {}
    for row in read_tsv(path):
        if row["metric"] != "delta_bpb" or row["strategy"] not in strategies:
            continue
        entry = table.setdefault((row["strategy"], row["predictor"]), {**row})
        p_value = "" if row["p_value"] == "NA" else f" (p = {number(row['p_value'])})"
        entry[row["method"]] = with_ci(row) + p_value
    return list(table.values())


def _noise_floor(path):
    shifts = [row for row in read_tsv(path) if row["metric"] == "bpb_shift"]
    return {
        "floor": number(read_noise_floor(path)),
        "shifts": [{"lang": row["scope"], "shift": number(row["value"])} for row in shifts],
    }


def _sweep(steps_path, test_path):
    """The greedy path and the test-split measurement of the chosen set."""
    steps = [{**row, "value": number(row["robust_disparity"])} for row in read_tsv(steps_path)]
    test = {}
    for row in read_tsv(test_path):
        entry = test.setdefault(row["strategy"], {"strategy": row["strategy"], "low": "", "high": "", "robust": ""})
        if row["metric"] == "robust_disparity":
            entry["robust"] = with_ci(row) + (f" ({row['note']})" if row["scope"] == "difference" else "")
        elif row["metric"] == "mean_delta_bpb" and row["scope"] in ("low", "high"):
            entry[row["scope"]] = with_ci(row)
    note = "" if steps else "No block chosen: the robust disparity is undefined for every block."
    return {"steps": steps, "test": list(test.values()), "note": note}


def _artifacts(sizes_path, effects_path):
    """Each artifact's size with its ΔBPB and disparity: measured on the model rebuilt from its
    files, or else on the simulated strategy (marked so)."""
    effects = {(row["artifact"], row["scope"], row["metric"]): row for row in read_tsv(effects_path)}
    rows = []
    for row in read_tsv(sizes_path):
        label = row["artifact"]
        if (label, "all", "mean_delta_bpb") not in effects:
            label = f"{label} (simulated)"
        delta = effects.get((label, "all", "mean_delta_bpb"))
        disparity = effects.get((label, "disparity", "robust_disparity"))
        simulated = " (simulated)" if label != row["artifact"] and delta else ""
        rows.append(
            {
                "artifact": row["artifact"],
                "megabytes": number(row["megabytes"], 4),
                "bits": number(row["bits_per_parameter"]),
                "vs_fp32": number(row["vs_fp32"]),
                "vs_int4": number(row["vs_int4"]),
                "delta": with_ci(delta) + simulated if delta else "",
                "disparity": with_ci(disparity) if disparity else "",
            }
        )
    return rows


def report_context(disparity_paths, storage_paths, stats_path, model_dirs, config, statistics, root="."):
    """`statistics`: {"claims": path, "ranking": [paths], "correlation": [paths], "noise_floor": [paths],
    "sweep_steps", "sweep_test", "sizes", "effects": [paths]}, the per-model lists in the order
    of `disparity_paths`."""
    storage = {}
    for path in storage_paths:
        entry = json.loads(Path(path).read_text())
        storage.setdefault(entry["model"], {})[entry["strategy"]] = entry
    models = []
    for path, model_dir in zip(disparity_paths, model_dirs, strict=True):
        rows = read_tsv(path)
        name = rows[0]["model"]
        provenance = read_provenance(model_dir)
        section = _model_section(rows, config["languages"], config["reference_language"], storage[name])
        models.append({"name": name, "provenance": provenance, **section})
    headline = headline_strategies(config)
    per_model = ("ranking", "correlation", "noise_floor", "sweep_steps", "sweep_test", "sizes", "effects")
    for model, paths in zip(models, zip(*(statistics[key] for key in per_model), strict=True), strict=True):
        path = dict(zip(per_model, paths, strict=True))
        model.update(
            ranking=_ranking(path["ranking"]),
            correlation=_correlation(path["correlation"], headline),
            noise_floor=_noise_floor(path["noise_floor"]),
            sweep=_sweep(path["sweep_steps"], path["sweep_test"]),
            artifacts=_artifacts(path["sizes"], path["effects"]),
        )
    return {
        "version": git_version(root),
        "config_hash": config_hash(config),
        "config_yaml": yaml.safe_dump(config, sort_keys=True),
        "config": config,
        "corpus_stats": [r for r in read_tsv(stats_path) if r["split"] == "test"],
        "models": models,
        "experiments": _experiments(config, models),
        "claims": _claims(statistics["claims"]),
    }


def render_report(template_path, context, resource_dir, output):
    """Markdown from the template, then pandoc to self-contained HTML (atomic)."""
    import pypandoc

    template_path = Path(template_path)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_path.parent),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    markdown = environment.get_template(template_path.name).render(**context)
    with atomic_path(output, suffix=".html") as tmp:
        pypandoc.convert_text(
            markdown,
            "html5",
            format="markdown",
            outputfile=str(tmp),
            extra_args=["--standalone", "--embed-resources", f"--resource-path={resource_dir}"],
        )
