"""Small fixture results for the report: every table the report rule reads, written by the
real library functions from synthetic per-segment scores of a model "tiny" (no model runs),
and the figures drawn from them by the real figure functions."""

import json
import os

import numpy as np

from quant_fairness.artifacts.sizes import EFFECT_COLUMNS, SIZE_COLUMNS, effect_rows, size_rows
from quant_fairness.artifacts.universe import COMPONENT_COLUMNS, PROTECTED_COLUMNS
from quant_fairness.evaluate.sweep import TEST_SCOPES, SweepResult, sweep_tables
from quant_fairness.plan import preservation_points
from quant_fairness.provenance import PROVENANCE
from quant_fairness.report.figures import (
    plot_calibration,
    plot_delta_bpb,
    plot_divergence,
    plot_language_spectrum,
    plot_layer_sweep,
    plot_pareto,
    plot_preservation,
    plot_resource_scatter,
)
from quant_fairness.stats.claims import COLUMNS as CLAIM_COLUMNS
from quant_fairness.stats.claims import claim_rows, protocols
from quant_fairness.stats.comparison import (
    COMPARISON_COLUMNS,
    LANGUAGE_COLUMNS,
    RANKING_COLUMNS,
    compare_strategies,
    language_differences,
)
from quant_fairness.stats.correlation import COLUMNS as CORRELATION_COLUMNS
from quant_fairness.stats.correlation import correlation_rows
from quant_fairness.stats.disparity import COLUMNS, disparity_rows
from quant_fairness.stats.noise_floor import COLUMNS as NOISE_COLUMNS
from quant_fairness.stats.paired import paired_scores
from quant_fairness.stats.predicates import parse_claim
from quant_fairness.stats.regression import COLUMNS as REGRESSION_COLUMNS
from quant_fairness.stats.regression import regression_rows
from quant_fairness.tables import SCORE_COLUMNS, read_tsv, write_tsv

GROUPS = {"high": ["en", "fr"], "low": ["he", "ar"]}
LANGUAGES = ["en", "fr", "he", "ar"]
FLOOR = 0.001
# Extra nats per segment each strategy costs each language: he and ar lose more under "lossy";
# "en_lossless" leaves en untouched, so its ratios to en are undefined.
SHIFTS = {
    "lossy": {"en": 1.0, "fr": 1.2, "he": 4.0, "ar": 3.0},
    "keep5": {"en": 0.9, "fr": 1.0, "he": 3.0, "ar": 2.5},
    "en_lossless": {"en": 0.0, "fr": 0.0, "he": 4.0, "ar": 3.0},
}
CONFIG = {
    "models": ["tiny"],
    "experiments": {"headline": {"strategies": ["lossy", "en_lossless"]}, "keep": {"strategies": ["lossy", "keep5"]}},
    "languages": LANGUAGES,
    "reference_language": "en",
    "groups": GROUPS,
    "strategy_specs": {
        "lossy": {"quantizer": "seed_absmax"},
        "keep5": {"quantizer": "seed_absmax", "protect": {"top_percent": 5}},
        "en_lossless": {"quantizer": "rtn", "bits": 8, "granularity": "channel"},
    },
    "resource_levels": {"seed": {"en": 1.0, "fr": 0.8, "he": 0.15, "ar": 0.25}},
    "stats": {
        "bootstrap_resamples": 100,
        "ci_level": 0.95,
        "noise_floor_dtype": "bfloat16",
        "noise_floor_segments": 8,
        "seed_protocol": {"groups": GROUPS, "segments": 1},
    },
    "evaluation": {"dtype": "float32"},
    "corpus": {"source": "plain"},
    "sweep": {"strategy": "lossy", "segments": 4, "max_layers": 2},
    "artifacts": {"int4": "lossy", "int8": "en_lossless", "fair": ["keep5"], "low_rank_ranks": []},
    "report": {"practical": ["keep"]},
}


LANGUAGE_TABLE_COLUMNS = ("lang", "name", "script", "likely_script", "script_agrees", "speakers", "speakers_of",
                    "log10_speakers", "tokens_per_byte_tiny")  # fmt: skip
LANGUAGE_TABLE = [
    {"lang": lang, "name": name, "script": script, "likely_script": script, "script_agrees": "yes",
     "speakers": speakers, "speakers_of": lang, "log10_speakers": f"{np.log10(speakers):.4f}",
     "tokens_per_byte_tiny": 0.4}
    for lang, name, script, speakers in (
        ("en", "English", "Latn", 1_728_003_523),
        ("fr", "French", "Latn", 311_936_089),
        ("he", "Hebrew", "Hebr", 9_414_650),
        ("ar", "Arabic", "Arab", 373_496_670),
    )
]  # fmt: skip


def _scores():
    """Baseline and per-strategy score rows: 30 segments per language, 10 tokens, 25 bytes each."""
    rng = np.random.default_rng(0)
    base = {(lang, f"{i:03d}"): float(rng.uniform(20, 40)) for lang in LANGUAGES for i in range(30)}

    def rows(strategy, shifts, compared=True):
        # A strategy's distributions move with its loss: KL of a tenth of it, one position in ten changed.
        return [
            {"model": "tiny", "strategy": strategy, "lang": lang, "id": i, "tokens": 10, "bytes": 25}
            | {"nll": nll + shifts.get(lang, 0.0)}
            | ({"kl_divergence": 0.1 * shifts.get(lang, 0.0) + 0.01, "top1_agreement": 9} if compared else {})
            for (lang, i), nll in base.items()
        ]

    return rows("baseline", {}, compared=False), {name: rows(name, shift) for name, shift in SHIFTS.items()}


def _write_json(path, entry):
    path.write_text(json.dumps(entry))
    return path


def write_fixture_results(folder):
    """Every input of report_context under `folder`; returns (inputs, config, benchmarks)."""
    baseline, strategies = _scores()
    scores = paired_scores(baseline, strategies)
    disparity = disparity_rows("tiny", scores, GROUPS, "en", FLOOR, 100, 0)
    write_tsv(folder / "disparity.tsv", disparity, COLUMNS)
    write_tsv(folder / "baseline.tsv", baseline, SCORE_COLUMNS)
    comparisons, ranking = compare_strategies("tiny", scores, GROUPS, "en", FLOOR, 100, 0)
    write_tsv(folder / "comparisons.tsv", comparisons, COMPARISON_COLUMNS)
    write_tsv(folder / "ranking.tsv", ranking, RANKING_COLUMNS)
    # The fixture's calibration settings: keep5 read as if it were a calibration setting of lossy.
    calibration = language_differences("tiny", scores, [("keep5", "lossy")], GROUPS, "en", FLOOR, 100, 0)
    write_tsv(folder / "calibration.tsv", calibration, LANGUAGE_COLUMNS)
    correlation = correlation_rows("tiny", scores, CONFIG["resource_levels"], FLOOR, 100, 100, 0)
    write_tsv(folder / "correlation.tsv", correlation, CORRELATION_COLUMNS)
    write_tsv(folder / "languages.tsv", LANGUAGE_TABLE, LANGUAGE_TABLE_COLUMNS)
    regression = regression_rows("tiny", scores, LANGUAGE_TABLE, 100, 0)
    write_tsv(folder / "regression.tsv", regression, REGRESSION_COLUMNS)
    claims = [
        parse_claim(
            {"id": "lr_worse", "source": "001.txt", "sentence": "LR | worse", "predicate": "disparity(lossy) > 1"}
        )
    ]
    claim_table = claim_rows(
        claims,
        {"tiny": scores},
        protocols(GROUPS, {"groups": GROUPS, "segments": 1}),
        "en",
        {"tiny": FLOOR},
        {},
        100,
        100,
        0,
    )
    write_tsv(folder / "claims.tsv", claim_table, CLAIM_COLUMNS)
    write_tsv(
        folder / "floor.tsv",
        [
            {"model": "tiny", "scope": "en", "metric": "bpb_shift", "value": 0.0003},
            {"model": "tiny", "scope": "floor", "metric": "largest_shift_bpb", "value": 0.0003, "ci_high": 0.0004},
            {"model": "tiny", "scope": "floor", "metric": "noise_floor_bpb", "value": 0.0004},
        ],
        NOISE_COLUMNS,
    )
    # The layer sweep's chosen set stands in for keep5's scores (strategy named as sweep names it).
    test_rows = [
        {**r, "strategy": "lossy+L0,1" if r["strategy"] == "keep5" else r["strategy"]}
        for r in disparity
        if r["scope"] in TEST_SCOPES and r["strategy"] in ("lossy", "keep5")
    ]
    (keep5_minus_lossy,) = [
        r
        for r in comparisons
        if r["metric"] == "robust_disparity" and (r["strategy"], r["versus"]) == ("keep5", "lossy")
    ]
    difference = {
        "strategy": "lossy",
        "versus": "lossy+L0,1",
        "difference": -keep5_minus_lossy["difference"],
        "ci_low": -keep5_minus_lossy["ci_high"],
        "ci_high": -keep5_minus_lossy["ci_low"],
        "distinguishable": "yes",
        "note": "",
    }
    single = [
        {"layer": 1, "robust_disparity": 3.5},
        {"layer": 0, "robust_disparity": 3.6},
        {"layer": 2, "robust_disparity": "NA"},
    ]
    steps = [{"layers": (1,), "robust_disparity": 3.5}, {"layers": (0, 1), "robust_disparity": 3.25}]
    sweep = SweepResult("lossy", single, steps, (0, 1), test_rows, difference)
    for name, (rows, columns) in sweep_tables("tiny", sweep).items():
        write_tsv(folder / f"sweep_{name}.tsv", rows, columns)
    files = {}
    for label, size in (("fp32", 400), ("fp16", 200), ("int4", 50), ("patch", 10)):
        files[label] = folder / f"{label}.bin"
        files[label].write_bytes(b"x" * size)
    artifacts = {label: ("", [files[label]]) for label in ("fp32", "fp16", "int4")}
    artifacts["lossy"] = ("lossy", [files["int4"], files["patch"]])
    artifacts["en_lossless"] = ("en_lossless", [files["int4"], files["patch"]])
    write_tsv(folder / "sizes.tsv", size_rows("tiny", 100, artifacts), SIZE_COLUMNS)
    effects = effect_rows("tiny", scores, GROUPS, "en", FLOOR, 100, 0)
    for row in effects:  # en_lossless's scores stand for a simulated strategy, not files
        row["artifact"] += " (simulated)" if row["artifact"] == "en_lossless" else ""
    write_tsv(folder / "effects.tsv", effects, EFFECT_COLUMNS)
    components = [
        {"model": "tiny", "component": "embedding", "layer": "NA", "parameters": 60, "share_pct": 60, "note": "tied"},
        {"model": "tiny", "component": "attention", "layer": 0, "parameters": 20, "share_pct": 20, "note": ""},
        {"model": "tiny", "component": "mlp", "layer": 0, "parameters": 20, "share_pct": 20, "note": ""},
    ]
    write_tsv(folder / "components.tsv", components, COMPONENT_COLUMNS)
    protected = [
        {**row, "strategy": "keep5", "protected": kept, "protected_pct": 100 * kept / row["parameters"]}
        for row, kept in zip(components, (1, 3, 1), strict=True)
    ]
    write_tsv(folder / "protected.tsv", protected, PROTECTED_COLUMNS)
    storage, timing = [], []
    for k, (strategy, bits) in enumerate((("lossy", 4.0), ("keep5", 5.6), ("en_lossless", 8.1))):
        storage.append(
            _write_json(
                folder / f"storage_{strategy}.json",
                {
                    "model": "tiny",
                    "strategy": strategy,
                    "bits_per_weight": bits,
                    "parameters": 100,
                    "protected_parameters": 5,
                },
            )
        )
        timing.append(
            _write_json(
                folder / f"timing_{strategy}.json",
                {
                    "model": "tiny",
                    "strategy": strategy,
                    "quantize_seconds": 1.0,
                    "score_seconds": 2.0 + k,
                    "tokens": 1200,
                },
            )
        )
        os.utime(timing[-1], (1_700_000_000 + 60 * k, 1_700_000_000 + 60 * k))
    (folder / "stats.tsv").write_text("split\tlang\tsegments\tchars\tbytes\ntest\ten\t30\t750\t750\n")
    sources = {
        "source": "plain",
        "unit": "line",
        "text": "plain text files from corpus/, aligned by id",
        "packages": {},
    }
    _write_json(folder / "sources.json", {**sources, "files_sha256": {"en.txt": "cd" * 32}})
    (folder / "test.jsonl").write_text('{"lang": "en", "id": "001", "text": "In the beginning."}\n')
    model_dir = folder / "model"
    model_dir.mkdir()
    _write_json(
        model_dir / PROVENANCE,
        {"name": "tiny", "architecture": "Tiny", "parameters": 100, "source": "local", "weights_sha256": "ab" * 32},
    )
    benchmark = folder / "baseline_benchmark.tsv"
    benchmark.write_text("s\th:m:s\tmax_rss\n12.5\t0:00:12\t100\n")
    per_model = {
        "disparity": "disparity.tsv",
        "ranking": "ranking.tsv",
        "correlation": "correlation.tsv",
        "regression": "regression.tsv",
        "comparisons": "comparisons.tsv",
        "calibration": "calibration.tsv",
        "noise_floor": "floor.tsv",
        "sweep_steps": "sweep_steps.tsv",
        "sweep_test": "sweep_test.tsv",
        "sizes": "sizes.tsv",
        "effects": "effects.tsv",
        "components": "components.tsv",
        "protected": "protected.tsv",
        "baseline": "baseline.tsv",
    }
    inputs = {key: [folder / name] for key, name in per_model.items()}
    inputs.update(
        models=[model_dir],
        storage=storage,
        timing=timing,
        stats=folder / "stats.tsv",
        corpus_sources=folder / "sources.json",
        test_split=folder / "test.jsonl",
        claims=folder / "claims.tsv",
        languages=folder / "languages.tsv",
        figures=write_figures(folder, read_tsv(folder / "disparity.tsv"), read_tsv(folder / "correlation.tsv")),
    )
    benchmarks = {"baseline": {"tiny": [benchmark]}, "sweep": {"tiny": [folder / "missing.tsv"]}}
    return inputs, CONFIG, benchmarks


def write_figures(folder, disparity, correlation):
    """The report's eight figures, drawn by the real figure functions from the fixture tables."""
    figures = folder / "figures"
    names = (
        "delta_bpb",
        "divergence",
        "calibration",
        "preservation",
        "layer_sweep",
        "pareto",
        "resource_scatter",
        "language_spectrum",
    )
    paths = [figures / f"{name}.png" for name in names]
    plot_delta_bpb({"tiny": disparity}, LANGUAGES, ["lossy", "en_lossless"], paths[0])
    plot_divergence({"tiny": disparity}, LANGUAGES, ["lossy", "en_lossless"], paths[1])
    plot_calibration({"tiny": read_tsv(folder / "calibration.tsv")}, paths[2])
    plot_preservation({"tiny": (preservation_points(CONFIG, "tiny"), disparity)}, paths[3])
    single = [{"layer": "1", "robust_disparity": "3.5"}, {"layer": "0", "robust_disparity": "3.6"}]
    plot_layer_sweep({"tiny": (single, [{"layers": "0,1"}])}, paths[4])
    plot_pareto({"tiny": ({"lossy": 4.0, "keep5": 5.6, "en_lossless": 8.1}, disparity)}, paths[5])
    plot_resource_scatter({"tiny": (disparity, correlation, "lossy")}, CONFIG["resource_levels"], paths[6])
    plot_language_spectrum({"tiny": (disparity, "lossy")}, LANGUAGE_TABLE, paths[7])
    return paths
