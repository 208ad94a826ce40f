import re
from pathlib import Path

from quant_fairness.plan import (
    calibration_families,
    headline_strategies,
    headline_strategy,
    model_strategies,
    planned_runs,
    preservation_points,
    swept_models,
)
from quant_fairness.data.corpus import SPLITS
from quant_fairness.data.sources import corpus_files as corpus_input_files
from quant_fairness.data.wheels import DOWNLOAD_DIR
from quant_fairness.provenance import library_sources
from quant_fairness.provenance import report_version
from quant_fairness.quantize.strategies import parse_strategy

MODELS = config["models"]
RUNS = planned_runs(config)
# Only defined strategies match {strategy} in quantize rules, so "baseline" never does.
STRATEGY_PATTERN = "|".join(re.escape(name) for name in config["strategy_specs"])
WHEEL_DIR = DOWNLOAD_DIR
MODEL_THREADS = config["evaluation"]["threads"]
COMPUTE = config["compute"]
LIGHT_JOB = COMPUTE["light_job"]
NOISE_FLOOR_DTYPE = config["stats"]["noise_floor_dtype"]
ARTIFACTS = config["artifacts"]
LOW_RANK_RANKS = ARTIFACTS["low_rank_ranks"]
PRESERVATION = {model: points for model in MODELS if (points := preservation_points(config, model))}
SWEPT = swept_models(config)
FIGURES = [
    f"results/figures/{name}.png"
    for name in (
        "delta_bpb",
        "divergence",
        "calibration",
        "preservation",
        *(["layer_sweep"] if SWEPT else []),
        "pareto",
        "resource_scatter",
        "language_spectrum",
    )
]
# On a few cores a long job started last leaves the others idle at the end (150 core-seconds at
# a906062 on 2 cores), so the longest jobs, and what the layer sweep reads, start first when ready.
LONG_JOB_PRIORITY = 10
# A new commit or another configuration renders a new report beside the earlier ones.
REPORT_DIR = f"results/report/{report_version(workflow.basedir, config)}"


def library(script):
    """The library modules `script` runs, as inputs: editing one of them reruns its jobs."""
    return library_sources(Path(workflow.basedir) / "scripts" / script)


def model_job(on_device=False):
    """The resources of a job that loads `{model}`: compute.model_job, overridden by the model's
    compute.per_model entry. Only jobs that run the model on evaluation.device ask for GPUs."""
    keys = ("mem_mb", "runtime", "gpu") if on_device else ("mem_mb", "runtime")
    return {key: model_resource(key) for key in keys}


def model_resource(key):
    def value(wildcards):
        return {**COMPUTE["model_job"], **COMPUTE["per_model"].get(wildcards.model, {})}[key]

    return value


def corpus_files(wildcards):
    """Local corpus files are inputs, so editing them rebuilds the splits (hub data is not a file here)."""
    return corpus_input_files(config["corpus"], config["languages"])


def local_model_files(wildcards):
    """A local model folder's files are inputs, so replacing the model re-prepares it."""
    local = config["model_sources"][wildcards.model].get("local")
    if local is None:
        return []
    return sorted(str(path) for path in Path(local).iterdir() if path.is_file())


def strategy_of(wildcards):
    return parse_strategy(wildcards.strategy, config["strategy_specs"][wildcards.strategy])


def quantize_priority(wildcards):
    """Matched calibration (a GPTQ model per language) and the sweep's unprotected scores go first."""
    sweep_input = wildcards.model in SWEPT and wildcards.strategy == config["sweep"]["strategy"]
    return LONG_JOB_PRIORITY if strategy_of(wildcards).matched or sweep_input else 0


def strategy_scores(wildcards):
    return [f"results/scores/{wildcards.model}/{strategy}.tsv" for strategy in model_strategies(config, wildcards.model)]


def run_files(pattern):
    """`pattern` filled in for every planned (model, strategy) run."""
    return [pattern.format(model=model, strategy=strategy) for model, strategy in RUNS]


def quantize_inputs(wildcards):
    """Calibration text for GPTQ/AWQ, and the salience mask for language-aware protection."""
    strategy = strategy_of(wildcards)
    inputs = {}
    if strategy.needs_calibration:
        inputs["calibration"] = "resources/corpus/calibration.jsonl"
    if strategy.needs_salience:
        inputs["mask"] = f"resources/masks/{wildcards.model}/{wildcards.strategy}.safetensors"
    return inputs


def salience_masks_of(wildcards):
    """The salience masks of the model's strategies that protect by salience."""
    return [
        f"resources/masks/{wildcards.model}/{name}.safetensors"
        for name in model_strategies(config, wildcards.model)
        if parse_strategy(name, config["strategy_specs"][name]).needs_salience
    ]


def artifact_files(wildcards):
    """What the artifact table of a model reads: packed files, patches, corrections, scores."""
    model, int4 = wildcards.model, ARTIFACTS["int4"]
    folder = f"results/artifacts/{model}"
    return {
        "fp16": f"{folder}/fp16/model.safetensors",
        "int8": f"{folder}/{ARTIFACTS['int8']}/quantized",
        "int4": f"{folder}/{int4}/quantized",
        "int4_scores": f"results/scores/{model}/{int4}.tsv",
        "patches": [f"{folder}/{name}/patch" for name in ARTIFACTS["fair"]],
        "fair_scores": [f"{folder}/{name}/fair_scores.tsv" for name in ARTIFACTS["fair"]],
        "simulated_scores": [f"results/scores/{model}/{name}.tsv" for name in ARTIFACTS["fair"] if (model, name) in RUNS],
        "corrections": [f"{folder}/{int4}/lowrank_r{rank}.safetensors" for rank in LOW_RANK_RANKS],
        "low_rank_scores": [f"{folder}/{int4}/lowrank_r{rank}_scores.tsv" for rank in LOW_RANK_RANKS],
    }


def job_benchmarks(kind):
    """{model: [benchmark files]} of one kind of job, for the journal's durations."""
    int4 = ARTIFACTS["int4"]
    pattern = {
        "baseline": ["results/benchmarks/baseline/{model}.tsv"],
        "sweep": ["results/benchmarks/sweep/{model}.tsv"],
        "artifacts": [f"results/benchmarks/artifacts/{{model}}/{name}_fair_scores.tsv" for name in ARTIFACTS["fair"]]
        + ([f"results/benchmarks/artifacts/{{model}}/{int4}_lowrank.tsv"] if LOW_RANK_RANKS else []),
    }[kind]
    return {model: [path.format(model=model) for path in pattern] for model in (SWEPT if kind == "sweep" else MODELS)}
