"""Beyond the laptop: FLORES+ as the corpus, hub models, the device switch, and the paper
configuration's plan with the resources a scheduler sees. Hub data cannot be reached from
here, so FLORES+ is read from a local copy in its own parquet layout, and what is checked
about the hub is the one-line message a user gets when it cannot be reached."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from conftest import TEXTS, score_folder, split_rows

from quant_fairness.config import check_config
from quant_fairness.data.corpus import group_of, normalise
from quant_fairness.data.flores import flores_splits, load_flores
from quant_fairness.data.models import load_model, resolve_device
from quant_fairness.errors import QuantFairnessError
from quant_fairness.quantize.strategies import parse_strategy

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow/schemas/config.schema.yaml"
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")
CODES = {"en": "eng_Latn", "he": "heb_Hebr", "ar": "arb_Arab"}
OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def write_flores_copy(folder, articles=6, sentences=4):
    """A FLORES+ copy in the hub's layout (dev/<code>.parquet, devtest/<code>.parquet, its
    columns): `articles` articles of `sentences` sentences per split, Genesis in each language."""
    for split, first_id in (("dev", 1), ("devtest", 1)):
        (folder / split).mkdir(parents=True, exist_ok=True)
        for lang, code in CODES.items():
            rows = [
                {
                    "id": first_id + article * sentences + n,
                    "iso_639_3": code[:3],
                    "iso_15924": code[4:],
                    "glottocode": "none0000",
                    "text": f"{TEXTS[lang][n % len(TEXTS[lang])]} {split} {article}.{n}",
                    "url": f"https://example.org/{split}/article-{article}",
                    "domain": "wikinews",
                    "topic": "religion",
                    "has_image": 0,
                    "has_hyperlink": 0,
                    "last_updated": "2.1",
                }
                for article in range(articles)
                for n in range(sentences)
            ]
            pq.write_table(pa.Table.from_pylist(rows), folder / split / f"{code}.parquet")
    return folder


def test_flores_test_text_comes_from_devtest_and_the_rest_from_dev_by_article(tmp_path):
    flores = load_flores(str(write_flores_copy(tmp_path / "flores")), CODES, ["en", "he"])
    sizes = {"calibration": 6, "selection": 6, "test": 10}
    texts, splits = flores_splits(flores, sizes, seed=0)
    assert {split: len(ids) for split, ids in splits.items()} == sizes
    assert all(i.startswith("devtest.") for i in splits["test"])
    assert all(i.startswith("dev.") for i in splits["calibration"] + splits["selection"])
    # An article (one url) never sits on both sides of calibration and selection.
    articles = {split: {group_of(i) for i in splits[split]} for split in ("calibration", "selection")}
    assert not articles["calibration"] & articles["selection"]
    assert texts["he"]["dev.0001.0001"] == normalise(f"{TEXTS['he'][0]} dev 0.0")  # points kept, as FLORES has them
    assert texts["en"]["devtest.0009.0009"] == "In the beginning God created devtest 2.0"
    assert flores_splits(flores, sizes, seed=0)[1] == splits
    assert flores_splits(flores, sizes, seed=1)[1] != splits


def test_a_sentence_without_url_in_one_language_leaves_the_other_ids_aligned(tmp_path):
    copy = write_flores_copy(tmp_path / "flores")
    hebrew = pq.read_table(copy / "dev/heb_Hebr.parquet").to_pylist()
    hebrew[1]["url"] = None  # sentence 2 of article 0
    pq.write_table(pa.Table.from_pylist(hebrew), copy / "dev/heb_Hebr.parquet")
    dev = load_flores(str(copy), CODES, ["en", "he"])["dev"]
    assert set(dev["en"]) - set(dev["he"]) == {"dev.0001.0002"}
    assert set(dev["he"]) - set(dev["en"]) == {"dev.0002.0002"}  # its own document, numbered by itself


def test_flores_that_cannot_be_reached_is_one_line_naming_language_and_remedy():
    code = (
        "from quant_fairness.data.flores import load_flores\n"
        "load_flores('openlanguagedata/flores_plus', {'he': 'heb_Hebr'}, ['he'])\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **OFFLINE})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("quant_fairness.errors.QuantFairnessError: cannot load FLORES+ 'heb_Hebr' (language 'he')")
    assert "from 'openlanguagedata/flores_plus'" in last and "hf auth login" in last


def test_hub_model_that_cannot_be_reached_is_one_line_naming_model_and_remedy(tmp_path):
    code = (
        "from quant_fairness.data.models import prepare_model\n"
        f"prepare_model('gpt2', {{'hub': 'openai-community/gpt2'}}, {str(tmp_path / 'gpt2')!r}, {str(tmp_path)!r})\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **OFFLINE})
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("quant_fairness.errors.QuantFairnessError: model 'gpt2': cannot load")
    assert "'openai-community/gpt2'" in last and "hf auth login" in last
    assert not (tmp_path / "gpt2").exists()


def _config(**changes):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for key, value in changes.items():
        config[key] = value
    return config


def test_flores_config_needs_a_code_per_language_and_a_whole_local_copy(tmp_path):
    corpus = {"source": "flores", "dataset": "openlanguagedata/flores_plus", "splits": {"calibration": 2,
              "selection": 2, "test": 4}, "seed": 0, "codes": {"en": "eng_Latn"}}  # fmt: skip
    languages = {"languages": ["en", "he"], "groups": {"high": ["en"], "low": ["he"]}}
    with pytest.raises(QuantFairnessError, match="^language 'he' has no FLORES\\+ code in corpus.codes"):
        check_config(_config(corpus=corpus, **languages), SCHEMA)
    copy = write_flores_copy(tmp_path / "flores")
    (copy / "devtest/heb_Hebr.parquet").unlink()
    local = {**corpus, "dataset": str(copy), "codes": CODES}
    with pytest.raises(QuantFairnessError, match="has no devtest/heb_Hebr.parquet"):
        check_config(_config(corpus=local, **languages), SCHEMA)
    with pytest.raises(
        QuantFairnessError, match="corpus.codes.en: 'english' is not a FLORES\\+ code; expected language_Script"
    ):
        check_config(_config(corpus={**corpus, "codes": {"en": "english", "he": "heb_Hebr"}}, **languages), SCHEMA)


def test_device_and_compute_are_checked_in_one_line():
    config = _config()
    with pytest.raises(QuantFairnessError, match="^config evaluation.device: 'gpu' does not match"):
        check_config({**config, "evaluation": {**config["evaluation"], "device": "gpu"}}, SCHEMA)
    with pytest.raises(QuantFairnessError, match="^config compute.model_job: 'gpu' is a required property"):
        check_config({**config, "compute": {**config["compute"], "model_job": {"mem_mb": 8000, "runtime": 60}}}, SCHEMA)
    cpu_with_gpus = {**config, "evaluation": {**config["evaluation"], "device": "cpu"}}
    cpu_with_gpus["compute"] = {**config["compute"], "model_job": {**config["compute"]["model_job"], "gpu": 1}}
    with pytest.raises(QuantFairnessError, match="^compute: model jobs ask a scheduler for GPUs but evaluation.device"):
        check_config(cpu_with_gpus, SCHEMA)
    with pytest.raises(QuantFairnessError, match="^compute.per_model: model 'llama-7b' is not defined"):
        check_config({**config, "compute": {**config["compute"], "per_model": {"llama-7b": {"mem_mb": 64000}}}}, SCHEMA)


def test_auto_is_the_cpu_here_and_a_missing_gpu_is_named():
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(QuantFairnessError, match="^device 'tpu' is not one of auto, cpu, cuda, cuda:N, mps$"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(QuantFairnessError, match="^device 'cuda:0' is not available: torch .* sees 0 CUDA"):
            resolve_device("cuda:0")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch sees none here)")
def test_scores_and_quantization_on_cuda_agree_with_the_cpu(tiny_model_dir):
    rows = split_rows()
    strategy = parse_strategy("rtn_int4_g32", {"quantizer": "rtn", "bits": 4, "group_size": 32, "symmetric": True})
    on_cpu, storage_cpu = score_folder(tiny_model_dir, rows, strategy, device="cpu")
    on_gpu, storage_gpu = score_folder(tiny_model_dir, rows, strategy, device="cuda")
    assert storage_gpu == storage_cpu
    for cpu_row, gpu_row in zip(on_cpu, on_gpu, strict=True):
        assert gpu_row["nll"] == pytest.approx(cpu_row["nll"], rel=1e-3, abs=1e-3)
    model, _ = load_model(tiny_model_dir, device="auto")
    assert next(model.parameters()).device.type == "cuda"


def test_hub_model_from_the_hub_cache_records_the_commit_it_loaded(tmp_path, tiny_model_dir):
    """A hub source read offline from the Hugging Face cache (its real layout: refs/main names
    the commit, snapshots/<commit>/ holds the files), as on a cluster node after a download."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub/models--example--tiny-llama"
    shutil.copytree(tiny_model_dir, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs/main").write_text(commit)
    code = (
        "import json\n"
        "from quant_fairness.data.models import prepare_model\n"
        f"print(json.dumps(prepare_model('tiny', {{'hub': 'example/tiny-llama'}}, {str(tmp_path / 'out')!r}, '.')))\n"
    )
    env = {**os.environ, **OFFLINE, "HF_HUB_CACHE": str(tmp_path / "hub")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    provenance = json.loads(result.stdout.strip().splitlines()[-1])
    assert (provenance["source"], provenance["hub"]) == ("hub", "example/tiny-llama")
    assert (provenance["revision"], provenance["commit"]) == ("main", commit)
    assert provenance["architecture"] == "LlamaForCausalLM"
    assert (tmp_path / "out/model.safetensors").is_file()


def test_load_model_places_the_model_on_the_resolved_device(tiny_model_dir):
    model, _ = load_model(tiny_model_dir, device="auto")
    assert {p.device.type for p in model.parameters()} == {resolve_device("auto").type}


def test_paper_plan_builds_offline_and_asks_a_scheduler_for_gpus_memory_and_time(tmp_path):
    """The paper configuration (hub models, FLORES+) is planned without reaching the hub, and
    each job carries the resources a cluster places it by."""
    shutil.copy(ROOT / "config.yaml", tmp_path / "config.yaml")
    result = subprocess.run(
        [SNAKEMAKE, "-n", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile",
         str(ROOT / "config/full.yaml"), str(ROOT / "config/paper.yaml")],
        capture_output=True, text=True, env={**os.environ, **OFFLINE},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = _planned_jobs(result.stdout)
    paper = yaml.safe_load((ROOT / "config/paper.yaml").read_text())
    assert {job["wildcards"]["model"] for job in jobs if job["rule"] == "model"} == set(paper["models"])
    quantize = [job for job in jobs if job["rule"] == "quantize_evaluate"]
    assert {job["resources"]["gpu"] for job in quantize} == {"1"}
    memory = {job["wildcards"]["model"]: job["resources"]["mem_mb"] for job in quantize}
    assert memory["qwen2.5-7b"] == "96000" and memory["gpt2"] == "32000"
    corpus = next(job for job in jobs if job["rule"] == "corpus")
    assert "gpu" not in corpus["resources"] and corpus["resources"]["mem_mb"] == "4000"
    preparation = next(job for job in jobs if job["rule"] == "model")
    assert "gpu" not in preparation["resources"]  # downloading and saving needs no GPU
    guided = {job["wildcards"]["model"] for job in quantize if job["wildcards"]["strategy"] == "seed_guided_low5"}
    assert guided == set(paper["models"]) - {"qwen2.5-7b"}
    # The full grid reaches every model: `models: all` undoes the default config's limits.
    layer0 = {job["wildcards"]["model"] for job in quantize if job["wildcards"]["strategy"] == "seed_layer0"}
    assert layer0 == set(paper["models"])


def _planned_jobs(dry_run):
    """[{rule, wildcards, resources}] of the jobs a dry run lists."""
    jobs = []
    for block in dry_run.split("\nrule ")[1:]:
        job = {"rule": block.split(":", 1)[0].strip(), "wildcards": {}, "resources": {}}
        for line in block.splitlines():
            key, _, value = line.strip().partition(": ")
            if key in ("wildcards", "resources"):
                job[key] = dict(item.split("=", 1) for item in value.split(", "))
        jobs.append(job)
    return jobs
