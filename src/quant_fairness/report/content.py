"""The report's content: every number the chapters of report/ show, read from the run's
result files into one context for jinja2 (quant_fairness.report.render fills the chapters in).

    context = report_context(inputs, config, version, benchmarks)   # version: provenance.report_version
"""

import hashlib
import importlib.metadata
import json
import platform
from pathlib import Path

import numpy as np
import yaml

from quant_fairness.errors import QuantFairnessError
from quant_fairness.plan import calibration_families, headline_strategies, headline_strategy, swept_models
from quant_fairness.provenance import config_hash, read_provenance
from quant_fairness.quantize.strategies import parse_strategy
from quant_fairness.report.abstract import abstract
from quant_fairness.report.findings import findings, pareto_front
from quant_fairness.report.formatting import number, with_ci
from quant_fairness.report.journal import journal_entries
from quant_fairness.report.render import renderer_versions
from quant_fairness.stats.correlation import coefficient
from quant_fairness.stats.noise_floor import LARGEST, read_noise_floor
from quant_fairness.tables import read_tsv


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


def _claims(path):
    """One row per claim and model, the seed and the robust protocol side by side, with the
    anchor the claims-at-a-glance table links to."""
    rows = {}
    for row in read_tsv(path):
        entry = rows.setdefault(
            (row["claim"], row["model"]),
            {"claim": row["claim"], "model": row["model"], "anchor": f"claim-{row['claim']}-{row['model']}"},
        )
        entry.update(source=row["source"], sentence=row["sentence"], predicate=row["predicate"])
        entry[row["protocol"]] = row
    return list(rows.values())


GLANCE_VERDICTS = {"not applicable": "n/a"}


def claims_glance(claims, models):
    """The claims at a glance: a row per claim, a column per model and protocol, each cell the
    verdict and the anchor of the claim's detail row (empty where the model has no such row)."""
    columns = [{"model": model, "protocol": protocol} for model in models for protocol in ("seed", "robust")]
    by_key = {(row["claim"], row["model"]): row for row in claims}
    rows = []
    for claim in dict.fromkeys(row["claim"] for row in claims):
        cells = []
        for column in columns:
            row = by_key.get((claim, column["model"]))
            verdict = row[column["protocol"]]["verdict"] if row and column["protocol"] in row else ""
            cells.append(
                {
                    "verdict": GLANCE_VERDICTS.get(verdict, verdict),
                    "anchor": row["anchor"] if row else "",
                    "protocol": column["protocol"],
                }
            )
        first = next(row for row in claims if row["claim"] == claim)
        rows.append({"claim": claim, "source": first["source"], "sentence": first["sentence"], "cells": cells})
    return {"columns": columns, "rows": rows}


def _ranking(path):
    return [{**row, "shown": with_ci(row)} for row in read_tsv(path) if row["metric"] == "robust_disparity"]


MIN_STRATEGIES = 3  # fewer points give no rank correlation


def _divergence(rows, ranking_path, strategies):
    """KL divergence and top-1 agreement of the headline strategies (all languages, and the KLD
    disparity), and whether ranking every strategy by mean KLD agrees with ranking it by mean ΔBPB."""
    lookup = {(r["strategy"], r["scope"], r["metric"]): r for r in rows}
    headline = [
        {
            "strategy": strategy,
            "kld": with_ci(lookup[(strategy, "all", "mean_kld_bpb")]),
            "agreement": with_ci(lookup[(strategy, "all", "mean_top1_agreement")]),
            "disparity": with_ci(lookup[(strategy, "disparity", "kld_disparity")]),
            "robust": with_ci(lookup[(strategy, "disparity", "robust_disparity")]),
        }
        for strategy in strategies
        if (strategy, "all", "mean_kld_bpb") in lookup
    ]
    # Mean ΔBPB and mean KLD of every strategy that has both, each ranked among those alone.
    means = {}
    for row in read_tsv(ranking_path):
        if row["metric"] in ("mean_delta_bpb", "mean_kld_bpb") and row["value"] != "NA":
            means.setdefault(row["strategy"], {})[row["metric"]] = float(row["value"])
    both = {name: entry for name, entry in means.items() if len(entry) == 2}

    def ranks(metric):
        ordered = sorted(both, key=lambda name: (both[name][metric], name))
        return {name: rank for rank, name in enumerate(ordered, start=1)}

    delta_rank, kld_rank = ranks("mean_delta_bpb"), ranks("mean_kld_bpb")
    table = [
        {
            "strategy": name,
            "delta_rank": delta_rank[name],
            "kld_rank": kld_rank[name],
            "delta": number(both[name]["mean_delta_bpb"]),
            "kld": number(both[name]["mean_kld_bpb"]),
        }
        for name in sorted(both, key=delta_rank.get)
    ]
    x = np.array([both[name]["mean_delta_bpb"] for name in both])
    y = np.array([both[name]["mean_kld_bpb"] for name in both])
    rho = coefficient(x, y, "spearman") if len(both) >= MIN_STRATEGIES else np.nan
    return {
        "headline": headline,
        "ranks": table,
        "spearman": "undefined" if np.isnan(rho) else number(rho),
        "moved": sum(row["delta_rank"] != row["kld_rank"] for row in table),
    }


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


def _regression(path, strategies):
    """The regression of ΔBPB and KLD on the language predictors, for the headline strategies:
    each coefficient with its segment and its language interval."""
    table = []
    for row in read_tsv(path):
        if row["strategy"] not in strategies:
            continue
        language = {"value": row["coefficient"], "ci_low": row["language_ci_low"], "ci_high": row["language_ci_high"]}
        table.append(
            {
                **row,
                "segments": with_ci({**row, "value": row["coefficient"]}),
                "languages_ci": with_ci(language),
                "r_squared": number(row["r_squared"]),
            }
        )
    return table


def _language_table(path, models):
    """results/corpus/languages.tsv for the report: speakers in millions, tokens per byte per model."""
    return [
        {
            **row,
            "millions": "NA" if row["speakers"] == "NA" else number(float(row["speakers"]) / 1e6),
            "tokens_per_byte": [number(row[f"tokens_per_byte_{model}"]) for model in models],
        }
        for row in read_tsv(path)
    ]


def _calibration(path):
    """Each calibration setting against calibrating on every language: per group (all, low, high)
    its ΔBPB difference with the family-wise interval, and per language the same."""
    rows = read_tsv(path)
    settings = {}
    for row in rows:
        entry = settings.setdefault(
            row["strategy"], {"strategy": row["strategy"], "versus": row["versus"], "scopes": {}}
        )
        shown = with_ci({"value": row["difference"], "ci_low": row["family_low"], "ci_high": row["family_high"]})
        entry["scopes"][row["scope"]] = shown + (" *" if row["distinguishable"] == "yes" else "")
    scopes = list(dict.fromkeys(row["scope"] for row in rows))
    return {"settings": list(settings.values()), "scopes": scopes, "family": rows[0]["family_size"] if rows else 0}


def _calibration_budgets(config):
    """The calibration token budgets of the run's calibration-language comparisons."""
    specs = config["strategy_specs"]
    names = {
        name
        for model in config["models"]
        for base, settings in calibration_families(config, model).items()
        for name in (base, *settings)
    }
    return sorted({parse_strategy(name, specs[name]).calibration_tokens for name in names})


def _noise_floor(path):
    rows = read_tsv(path)
    largest = next((row for row in rows if (row["scope"], row["metric"]) == LARGEST), None)
    return {
        "floor": number(read_noise_floor(path)),
        "kld_floor": number(read_noise_floor(path, "kld")),
        "largest": with_ci(largest) if largest else "NA",
        "shifts": [
            {"lang": row["scope"], "shift": number(row["value"])} for row in rows if row["metric"] == "bpb_shift"
        ],
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


class _PlainDumper(yaml.SafeDumper):
    """Writes a value shared by two keys twice, as the user wrote it, not as an &anchor."""

    def ignore_aliases(self, data):
        return True


def _frontier(rows, storage):
    """The strategies on the bits-per-weight vs robust disparity Pareto frontier, cheapest first."""
    robust = {r["strategy"]: r for r in rows if r["metric"] == "robust_disparity" and r["value"] != "NA"}
    points = [(storage[name]["bits_per_weight"], float(row["value"]), name) for name, row in robust.items()]
    return [
        {"strategy": name, "bits": number(bits, 4), "robust": with_ci(robust[name])}
        for bits, _, name in pareto_front(points)
    ]


def component_shares(components_path, protected_path):
    """Where a model's weights live (per component, blocks summed) and where each protecting
    strategy's kept weights fall: its share of each component, and its three densest blocks."""
    components = {}
    for row in read_tsv(components_path):
        entry = components.setdefault(row["component"], {"component": row["component"], "parameters": 0, "note": ""})
        entry["parameters"] += int(row["parameters"])
        entry["note"] = entry["note"] or row["note"]
    total = sum(entry["parameters"] for entry in components.values())
    table = [
        {**entry, "share": number(100 * entry["parameters"] / total)}
        for entry in sorted(components.values(), key=lambda entry: -entry["parameters"])
    ]
    kept = {}
    for row in read_tsv(protected_path):
        counts = kept.setdefault(row["strategy"], {"component": {}, "block": {}})
        for key, where in (("component", row["component"]), ("block", row["layer"])):
            pair = counts[key].setdefault(where, [0, 0])
            pair[0] += int(row["protected"])
            pair[1] += int(row["parameters"])
    strategies = []
    for strategy, counts in kept.items():
        shares = {name: number(100 * k / n) if n else "NA" for name, (k, n) in counts["component"].items()}
        blocks = [(-k / n, int(block)) for block, (k, n) in counts["block"].items() if block != "NA" and k]
        strategies.append(
            {
                "strategy": strategy,
                "shares": [shares.get(row["component"], "NA") for row in table],
                "densest": ", ".join(f"{block} ({number(-100 * share)}%)" for share, block in sorted(blocks)[:3])
                or "none",
            }
        )
    return {"components": table, "strategies": strategies}


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_provenance(inputs):
    """What the run was made from: corpus files and test split hashes, and every installed
    package's version (the environment the report job ran in, which the workflow shares)."""
    sources = json.loads(Path(inputs["corpus_sources"]).read_text())
    packages = sorted((dist.metadata["Name"], dist.version) for dist in importlib.metadata.distributions())
    return {
        "corpus": sources,
        "corpus_files": sorted(sources["files_sha256"].items()),
        "test_split_sha256": _sha256(inputs["test_split"]),
        "packages": [f"{name} {version}" for name, version in dict(packages).items()],
        "python": platform.python_version(),
        "renderers": renderer_versions(),
    }


PER_MODEL = (
    "disparity",
    "calibration",
    "models",
    "ranking",
    "correlation",
    "regression",
    "comparisons",
    "noise_floor",
    "sizes",
    "effects",
    "components",
    "protected",
    "baseline",
)


# Only the models the layer sweep ran on (sweep.models) have these.
PER_SWEPT_MODEL = ("sweep_steps", "sweep_test")


def _per_model(inputs, swept):
    """{model name: {key: path}} from the per-model input lists, all in the order of `models`;
    the PER_SWEPT_MODEL lists hold the `swept` models only, in the same order."""
    names = [read_provenance(path)["name"] for path in inputs["models"]]
    paths = {name: {key: inputs[key][k] for key in PER_MODEL} for k, name in enumerate(names)}
    for key in PER_SWEPT_MODEL:
        if len(inputs[key]) != len(swept):
            raise QuantFairnessError(f"{key}: {len(inputs[key])} files for the {len(swept)} swept models {swept}")
    for k, name in enumerate(swept):
        paths[name].update({key: inputs[key][k] for key in PER_SWEPT_MODEL})
    return paths


def _storage(paths):
    storage = {}
    for path in paths:
        entry = json.loads(Path(path).read_text())
        storage.setdefault(entry["model"], {})[entry["strategy"]] = entry
    return storage


def report_context(inputs, config, version, benchmarks=None):
    """Everything the chapters show, from the run's files. `inputs` maps the report rule's input
    names to paths: per-model lists (PER_MODEL, in one model order; PER_SWEPT_MODEL, of the swept
    models only), plus `storage`, `timing`, `stats`, `claims`, `corpus_sources`, `test_split` and
    `languages`; `benchmarks`: optional job-time files."""
    storage = _storage(inputs["storage"])
    headline = headline_strategies(config)
    models = []
    for name, path in _per_model(inputs, swept_models(config)).items():
        rows = read_tsv(path["disparity"])
        section = _model_section(rows, config["languages"], config["reference_language"], storage[name])
        models.append(
            {
                "name": name,
                "headline": headline_strategy(config, name),
                "provenance": read_provenance(path["models"]),
                "rows": rows,
                "storage": storage[name],
                "paths": path,
                **section,
                "ranking": _ranking(path["ranking"]),
                "divergence": _divergence(rows, path["ranking"], headline),
                "calibration": _calibration(path["calibration"]),
                "correlation": _correlation(path["correlation"], headline),
                "regression": _regression(path["regression"], headline),
                "noise_floor": _noise_floor(path["noise_floor"]),
                "sweep": _sweep(path["sweep_steps"], path["sweep_test"]) if "sweep_steps" in path else None,
                "artifacts": _artifacts(path["sizes"], path["effects"]),
                "universe": component_shares(path["components"], path["protected"]),
                "frontier": _frontier(rows, storage[name]),
            }
        )
    context = {
        "version": version,
        "config_hash": config_hash(config),
        "config_yaml": yaml.dump(config, Dumper=_PlainDumper, sort_keys=True, allow_unicode=True),
        "config": config,
        "ci_percent": f"{100 * config['stats']['ci_level']:g}",
        "corpus_stats": [r for r in read_tsv(inputs["stats"]) if r["split"] == "test"],
        # The regression needs MIN_LANGUAGES languages with a speaker count: shown where it fitted.
        "wide": any(row["coefficient"] != "NA" for model in models for row in model["regression"]),
        "language_table": _language_table(inputs["languages"], [model["name"] for model in models]),
        "models": models,
        "claims": _claims(inputs["claims"]),
        "calibration_tokens": _calibration_budgets(config),
        "provenance": run_provenance(inputs),
    }
    hashes = {"corpus": context["provenance"]["test_split_sha256"][:12], "config": context["config_hash"]}
    context["journal"] = journal_entries(config, models, inputs["timing"], benchmarks or {}, hashes)
    context["findings"] = findings(config, models)
    context["answer"] = abstract(config, models, context["claims"])
    context["claims_glance"] = claims_glance(context["claims"], [model["name"] for model in models])
    context["changes"] = None  # the first version; the report job compares with the previous one on disk
    return context
