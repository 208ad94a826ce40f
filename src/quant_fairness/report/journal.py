"""The journal chapter: what the workflow ran, when, on what, how long it took and what it
found, oldest first, in the seed journal's form (an entry per experiment with its tables).
Read from the run's own files: finish times are the result files' modification times,
durations the jobs' own timing records.

    entries = journal_entries(config, models, timing_paths, benchmarks, hashes)   # models: report_context's
"""

import json
from datetime import UTC, datetime
from pathlib import Path

from quant_fairness.plan import experiment_models
from quant_fairness.report.formatting import number, with_ci
from quant_fairness.tables import read_tsv


def finished_at(path):
    return datetime.fromtimestamp(Path(path).stat().st_mtime, UTC)


def _when(moment):
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def job_seconds(paths):
    """Wall seconds summed over Snakemake benchmark files; None if a job has none (a result
    computed before its rule was benchmarked)."""
    paths = [Path(path) for path in paths]
    if not paths or not all(path.exists() for path in paths):
        return None
    return sum(float(read_tsv(path)[0]["s"]) for path in paths)


def _took(seconds):
    return "not recorded" if seconds is None else f"{number(seconds)} s"


def _on(model, hashes):
    return {"model": model["name"], "weights": model["provenance"]["weights_sha256"][:12], **hashes}


def _experiment_entries(config, models, timing, hashes):
    by_name = {model["name"]: model for model in models}
    entries = []
    for name, plan in config["experiments"].items():
        runs = [
            (by_name[model], strategy)
            for model in experiment_models(config, plan)
            if model in by_name
            for strategy in plan["strategies"]
            if (model, strategy) in timing
        ]
        if not runs:
            continue
        rows, languages = [], []
        for model, strategy in runs:
            record, path = timing[(model["name"], strategy)]
            lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in model["rows"]}
            seconds = record["quantize_seconds"] + record["score_seconds"]
            robust = lookup[(strategy, "disparity", "robust_disparity")]
            rows.append(
                {
                    "model": model["name"],
                    "strategy": strategy,
                    "finished": finished_at(path),
                    "seconds": seconds,
                    "took": _took(seconds),
                    "tokens_per_second": number(record["tokens"] / record["score_seconds"]),
                    "bits": number(model["storage"][strategy]["bits_per_weight"], 4),
                    "robust": with_ci(robust),
                    "robust_value": None if robust["value"] == "NA" else float(robust["value"]),
                    "seed": with_ci(lookup[(strategy, "disparity", "seed_disparity")]),
                }
            )
            languages.append(
                {
                    "model": model["name"],
                    "strategy": strategy,
                    "delta": [number(lookup[(strategy, lang, "delta_bpb")]["value"]) for lang in config["languages"]],
                }
            )
        defined = [row for row in rows if row["robust_value"] is not None]
        finding = "Robust disparity is undefined for every run of this experiment."
        if defined:
            low, high = min(defined, key=_robust), max(defined, key=_robust)
            finding = f"Lowest robust disparity: `{low['strategy']}` on {low['model']}, {low['robust']}"
            if high is not low:
                finding += f"; highest: `{high['strategy']}` on {high['model']}, {high['robust']}"
            finding += "."
        moment = max(row["finished"] for row in rows)
        entries.append(
            {
                "kind": "experiment",
                "title": f"Experiment `{name}`",
                "moment": moment,
                "when": _when(moment),
                "took": _took(sum(row["seconds"] for row in rows)),
                "on": [_on(model, hashes) for model in {model["name"]: model for model, _ in runs}.values()],
                "finding": finding,
                "runs": [{**row, "finished": row["finished"].strftime("%H:%M:%S")} for row in rows],
                "languages": languages,
            }
        )
    return entries


def _robust(row):
    return row["robust_value"]


def _model_entries(models, benchmarks, hashes):
    """The baseline, the layer sweep and the artifacts of each model."""
    entries = []
    for model in models:
        name, paths = model["name"], model["paths"]
        bpb = [float(r["value"]) for r in model["rows"] if r["metric"] == "bpb_baseline" and r["value"] != "NA"]
        found = {
            "baseline": f"Baseline bits per byte from {number(min(bpb))} to {number(max(bpb))} across languages.",
            "artifacts": "Sizes: "
            + ", ".join(
                f"{row['artifact']} {row['megabytes']} MB ({row['vs_int4']}× INT4)"
                for row in model["artifacts"]
                if row["artifact"] == "int4" or row["artifact"].startswith("fair")
            )
            + ".",
        }
        files = {"baseline": paths["baseline"], "artifacts": paths["sizes"]}
        sweep = model["sweep"]
        if sweep:  # a model left out of sweep.models has no sweep to record
            chosen = sweep["steps"][-1]["layers"] if sweep["steps"] else "none"
            tested = "; ".join(f"`{row['strategy']}` {row['robust']}" for row in sweep["test"])
            found["sweep"] = f"Chose blocks {chosen}. On the test split: {tested}."
            files["sweep"] = paths["sweep_steps"]
        titles = {"baseline": "Baseline", "sweep": "Layer sweep", "artifacts": "Artifacts"}
        for kind, path in files.items():
            moment = finished_at(path)
            entries.append(
                {
                    "kind": kind,
                    "title": f"{titles[kind]} of {name}",
                    "moment": moment,
                    "when": _when(moment),
                    "took": _took(job_seconds(benchmarks.get(kind, {}).get(name, []))),
                    "on": [_on(model, hashes)],
                    "finding": found[kind],
                }
            )
    return entries


def journal_entries(config, models, timing_paths, benchmarks, hashes):
    """Every experiment, baseline, layer sweep and artifact set of the run, oldest first.
    `benchmarks`: {"baseline" | "sweep" | "artifacts": {model: [benchmark files]}};
    `hashes`: {"corpus": ..., "config": ...}, shown beside each model's weights hash."""
    timing = {}
    for path in timing_paths:
        record = json.loads(Path(path).read_text())
        timing[(record["model"], record["strategy"])] = (record, path)
    entries = _experiment_entries(config, models, timing, hashes) + _model_entries(models, benchmarks, hashes)
    return sorted(entries, key=lambda entry: entry["moment"])
