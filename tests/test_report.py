"""The report shows measured numbers, names the reference language as such, and shows an
undefined ratio as undefined with its reason, never as a number."""

import json
from pathlib import Path

import numpy as np

from quant_fairness.artifacts import EFFECT_COLUMNS, SIZE_COLUMNS, effect_rows, size_rows
from quant_fairness.claims import COLUMNS as CLAIM_COLUMNS
from quant_fairness.claims import claim_rows, protocols
from quant_fairness.comparison import RANKING_COLUMNS, compare_strategies
from quant_fairness.correlation import COLUMNS as CORRELATION_COLUMNS
from quant_fairness.correlation import correlation_rows
from quant_fairness.disparity import COLUMNS, disparity_rows
from quant_fairness.paired import paired_scores
from quant_fairness.predicates import parse_claim
from quant_fairness.provenance import PROVENANCE
from quant_fairness.report import render_report, report_context
from quant_fairness.sweep import TEST_SCOPES, SweepResult, sweep_tables
from quant_fairness.tables import write_tsv

ROOT = Path(__file__).resolve().parents[1]
GROUPS = {"high": ["en"], "low": ["he"]}


def _scores(shift, rng):
    rows = []
    for lang, extra in shift.items():
        for i in range(30):
            base = float(rng.uniform(20, 40))
            rows.append({"lang": lang, "id": f"{i:03d}", "tokens": 10, "bytes": 25, "nll": base, "q": base + extra})
    return [{**r, "nll": r["nll"]} for r in rows], [{**r, "nll": r["q"]} for r in rows]


def _statistics(tmp_path, scores):
    """The statistics tables of the real rules, written for `scores`."""
    comparisons, ranking = compare_strategies("tiny", scores, GROUPS, "en", 0.001, 100, 0)
    write_tsv(tmp_path / "ranking.tsv", ranking, RANKING_COLUMNS)
    correlation = correlation_rows("tiny", scores, {"seed": {"en": 1.0, "he": 0.15}}, 0.001, 100, 100, 0)
    write_tsv(tmp_path / "correlation.tsv", correlation, CORRELATION_COLUMNS)
    claims = [
        parse_claim(
            {"id": "lr_worse", "source": "001.txt", "sentence": "LR | worse", "predicate": "disparity(lossy) > 1"}
        )
    ]
    rows = claim_rows(
        claims,
        {"tiny": scores},
        protocols(GROUPS, {"groups": GROUPS, "segments": 1}),
        "en",
        {"tiny": 0.001},
        {},
        100,
        100,
        0,
    )
    write_tsv(tmp_path / "claims.tsv", rows, CLAIM_COLUMNS)
    write_tsv(
        tmp_path / "floor.tsv",
        [
            {"model": "tiny", "scope": "en", "metric": "bpb_shift", "value": 0.0004},
            {"model": "tiny", "scope": "floor", "metric": "noise_floor_bpb", "value": 0.0004},
        ],
        ("model", "scope", "metric", "value"),
    )
    test_rows = [r for r in disparity_rows("tiny", scores, GROUPS, "en", 0.001, 100, 0) if r["scope"] in TEST_SCOPES]
    difference = next(r for r in comparisons if r["metric"] == "robust_disparity")
    steps = [{"layers": (1,), "robust_disparity": 3.5}, {"layers": (0, 1), "robust_disparity": 3.25}]
    sweep = SweepResult("lossy", [{"layer": 1, "robust_disparity": 3.5}], steps, (0, 1), test_rows, difference)
    for name, (rows, columns) in sweep_tables("tiny", sweep).items():
        write_tsv(tmp_path / f"sweep_{name}.tsv", rows, columns)
    files = {}
    for label, size in (("fp32", 400), ("fp16", 200), ("int4", 50), ("patch", 10)):
        files[label] = tmp_path / f"{label}.bin"
        files[label].write_bytes(b"x" * size)
    artifacts = {label: ("", [files[label]]) for label in ("fp32", "fp16", "int4")}
    artifacts["lossy"] = ("lossy", [files["int4"], files["patch"]])
    artifacts["en_lossless"] = ("en_lossless", [files["int4"], files["patch"]])
    write_tsv(tmp_path / "sizes.tsv", size_rows("tiny", 100, artifacts), SIZE_COLUMNS)
    effects = effect_rows("tiny", scores, GROUPS, "en", 0.001, 100, 0)
    for row in effects:  # en_lossless's scores stand for a simulated strategy, not files
        row["artifact"] += " (simulated)" if row["artifact"] == "en_lossless" else ""
    write_tsv(tmp_path / "effects.tsv", effects, EFFECT_COLUMNS)
    return {
        "claims": tmp_path / "claims.tsv",
        "ranking": [tmp_path / "ranking.tsv"],
        "correlation": [tmp_path / "correlation.tsv"],
        "noise_floor": [tmp_path / "floor.tsv"],
        "sweep_steps": [tmp_path / "sweep_steps.tsv"],
        "sweep_test": [tmp_path / "sweep_test.tsv"],
        "sizes": [tmp_path / "sizes.tsv"],
        "effects": [tmp_path / "effects.tsv"],
    }


def test_report_marks_reference_and_undefined_ratios(tmp_path):
    rng = np.random.default_rng(0)
    baseline, lossy = _scores({"en": 1.0, "he": 4.0}, rng)
    _, lossless_en = _scores({"en": 0.0, "he": 4.0}, np.random.default_rng(0))
    scores = paired_scores(baseline, {"lossy": lossy, "en_lossless": lossless_en})
    rows = disparity_rows("tiny", scores, GROUPS, "en", 0.001, 100, 0)
    write_tsv(tmp_path / "tiny.tsv", rows, COLUMNS)
    for strategy in ("lossy", "en_lossless"):
        (tmp_path / f"{strategy}.json").write_text(
            json.dumps(
                {
                    "model": "tiny",
                    "strategy": strategy,
                    "bits_per_weight": 4.5,
                    "parameters": 10,
                    "protected_parameters": 1,
                }
            )
        )
    (tmp_path / "stats.tsv").write_text("split\tlang\tsegments\tchars\tbytes\ntest\ten\t30\t750\t750\n")
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / PROVENANCE).write_text(
        json.dumps({"architecture": "Tiny", "parameters": 10, "source": "local", "weights_sha256": "ab" * 32})
    )
    config = {
        "models": ["tiny"],
        "experiments": {"headline": {"strategies": ["lossy", "en_lossless"]}},
        "languages": ["en", "he"],
        "reference_language": "en",
        "groups": {"high": ["en"], "low": ["he"]},
        "stats": {
            "bootstrap_resamples": 100,
            "ci_level": 0.95,
            "noise_floor_dtype": "bfloat16",
            "seed_protocol": {"groups": GROUPS, "segments": 1},
        },
        "evaluation": {"dtype": "float32"},
        "corpus": {"source": "plain"},
        "sweep": {"strategy": "lossy", "segments": 4, "max_layers": 2},
    }
    context = report_context(
        [tmp_path / "tiny.tsv"],
        [tmp_path / "lossy.json", tmp_path / "en_lossless.json"],
        tmp_path / "stats.tsv",
        [model_dir],
        config,
        _statistics(tmp_path, scores),
        root=ROOT,
    )
    (tmp_path / "delta_bpb.png").write_bytes((ROOT / "tests/data/one_pixel.png").read_bytes())
    render_report(ROOT / "report/report.md.j2", context, tmp_path, tmp_path / "report.html")
    html = " ".join((tmp_path / "report.html").read_text().split())  # pandoc wraps long lines
    disparity = {r["strategy"]: r for r in context["models"][0]["disparity"]}
    assert disparity["en_lossless"]["robust"] == "undefined"
    assert "undefined: mean ΔBPB of the high group = 0 &lt;= 0" in html
    assert "undefined: ΔBPB(en) = 0 &lt;= 0" in html
    assert disparity["lossy"]["robust"].startswith("4 [")  # he loses 4 nats per segment, en 1
    assert ">reference</td>" in html
    assert "Experiment <code>headline</code>" in html and 'right;">10</td>' in html  # 1 of 10 protected
    assert "data:image/png;base64," in html
    # The statistics: the claim with both protocols' verdicts, the ranking, the noise floor.
    assert "<code>lr_worse</code>: LR / worse" in html and "<strong>holds</strong>" in html
    assert "Ranking of tiny’s strategies" in html or "Ranking of tiny's strategies" in html
    assert "4.00e-04" in html
    # The layer sweep's greedy path and test measurement, and the artifact sizes from files.
    assert "Layer sweep of tiny" in html and "<td>0,1</td>" in html and "3.25" in html
    assert "en_lossless - lossy" in html  # the paired difference row
    artifacts = {row["artifact"]: row for row in context["models"][0]["artifacts"]}
    assert artifacts["lossy"]["megabytes"] == "6.000e-05" and artifacts["lossy"]["vs_int4"] == "1.2"
    assert artifacts["lossy"]["delta"].startswith("0.144 [")  # (1 + 4) / 2 nats per 25 bytes
    assert artifacts["fp32"]["delta"] == ""  # not scored: no ΔBPB shown
    assert artifacts["en_lossless"]["delta"].endswith("(simulated)")
