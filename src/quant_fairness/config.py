"""Load and check the workflow configuration before any heavy work starts.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes and types; the
checks here need domain knowledge: languages the corpus has, groups drawn from the
configured languages, models and strategies that are defined. Every failure is one
line naming the bad value and what was expected.

    config = check_config(yaml.safe_load(open("config.yaml")), "workflow/schemas/config.schema.yaml")
"""

from pathlib import Path

import jsonschema
import yaml

from quant_fairness.corpus import BIBLE_LANGUAGES, FLORES_DATASET, flores_codes, flores_files, plain_files
from quant_fairness.errors import QuantFairnessError
from quant_fairness.strategies import check_packable, parse_strategy, strategy_named


def _schema_error(error):
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return QuantFairnessError(f"config {where}: {error.message}")


def _check_corpus(corpus, languages):
    """The corpus offers every language; a FLORES+ corpus is only reached when the corpus rule runs."""
    source = corpus["source"]
    if source == "bible":
        for lang in languages:
            if lang not in BIBLE_LANGUAGES:
                raise QuantFairnessError(
                    f"language {lang!r} is not in the bible corpus; expected one of {BIBLE_LANGUAGES}"
                )
    elif source == "plain":
        if "path" not in corpus:
            raise QuantFairnessError("corpus source 'plain' needs corpus.path (a folder of <lang>.txt or <lang>.jsonl)")
        plain_files(corpus["path"], languages)
    else:
        if "dataset" not in corpus:
            raise QuantFairnessError(f"corpus source 'flores' needs corpus.dataset (e.g. {FLORES_DATASET})")
        if Path(corpus["dataset"]).is_dir():
            flores_files(corpus["dataset"], corpus.get("codes", {}), languages)
        else:
            flores_codes(corpus.get("codes", {}), languages)


def check_config(config, schema_path):
    """Return `config` unchanged if valid; raise QuantFairnessError otherwise."""
    if not isinstance(config, dict):
        raise QuantFairnessError(f"config must be a mapping, got {type(config).__name__}")
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise _schema_error(error)
    languages = config["languages"]
    _check_corpus(config["corpus"], languages)
    for group, members in config["groups"].items():
        for lang in members:
            if lang not in languages:
                raise QuantFairnessError(f"groups.{group}: language {lang!r} is not in languages {languages}")
    if config["reference_language"] not in languages:
        raise QuantFairnessError(f"reference_language {config['reference_language']!r} is not in languages {languages}")
    if config["stats"]["noise_floor_dtype"] == config["evaluation"]["dtype"]:
        raise QuantFairnessError(
            f"stats.noise_floor_dtype {config['stats']['noise_floor_dtype']!r} equals evaluation.dtype: "
            "the noise floor compares two different numerics (float32 and bfloat16)"
        )
    for model in config["models"]:
        if model not in config["model_sources"]:
            raise QuantFairnessError(
                f"model {model!r} is not defined; expected one of {sorted(config['model_sources'])}"
            )
        local = config["model_sources"][model].get("local")
        if local is not None and not (Path(local) / "config.json").is_file():
            raise QuantFairnessError(f"model {model!r}: local folder {local!r} is missing or has no config.json")
    compute = config["compute"]
    asked = [compute["model_job"], *compute["per_model"].values()]
    if config["evaluation"]["device"] == "cpu" and any(job.get("gpu", 0) for job in asked):
        raise QuantFairnessError(
            "compute: model jobs ask a scheduler for GPUs but evaluation.device is 'cpu'; set gpu: 0 or device: auto"
        )
    for model in compute["per_model"]:
        if model not in config["model_sources"]:
            raise QuantFairnessError(
                f"compute.per_model: model {model!r} is not defined; expected one of {sorted(config['model_sources'])}"
            )
    for name, spec in config["strategy_specs"].items():
        parse_strategy(name, spec)
    _check_sweep(config)
    _check_artifacts(config)
    for experiment, plan in config["experiments"].items():
        for model in [] if plan.get("models", "all") == "all" else plan["models"]:
            if model not in config["model_sources"]:
                raise QuantFairnessError(
                    f"experiments.{experiment}: model {model!r} is not defined; "
                    f"expected one of {sorted(config['model_sources'])}"
                )
        for strategy in plan["strategies"]:
            strategy_named(strategy, config["strategy_specs"], f"experiments.{experiment}: ")
    return config


def _check_sweep(config):
    strategy = strategy_named(config["sweep"]["strategy"], config["strategy_specs"], "sweep.strategy: ")
    if strategy.needs_calibration or strategy.needs_salience or not strategy.protection.is_empty:
        raise QuantFairnessError(
            f"sweep.strategy: {strategy.name!r} reads calibration text or protects weights; the sweep protects "
            "blocks itself and takes a plain quantizer (e.g. seed_absmax_int4)"
        )


def _check_artifacts(config):
    artifacts, specs = config["artifacts"], config["strategy_specs"]
    for key, bits in (("int4", 4), ("int8", 8)):
        strategy = strategy_named(artifacts[key], specs, f"artifacts.{key}: ")
        check_packable(strategy)
        width = 4 if strategy.quantizer == "seed_absmax" else strategy.bits
        if width != bits or strategy.component_bits:
            raise QuantFairnessError(f"artifacts.{key}: strategy {strategy.name!r} is not a {bits}-bit quantizer")
    int4 = strategy_named(artifacts["int4"], specs)
    for name in artifacts["fair"]:
        fair = strategy_named(name, specs, "artifacts.fair: ")
        if fair.protection.is_empty:
            raise QuantFairnessError(f"artifacts.fair: strategy {name!r} protects no weight, so it has no patch")
        if fair.quantizer_spec != int4.quantizer_spec:
            raise QuantFairnessError(
                f"artifacts.fair: strategy {name!r} does not quantize as artifacts.int4 {int4.name!r}; "
                "its patch must apply to that INT4 model"
            )


def experiment_models(config, plan):
    """The models an experiment runs on: its `models` that are in `models`, or all of them
    (no `models`, or `models: all`, which a config merged over another restores)."""
    wanted = plan.get("models", "all")
    return [model for model in config["models"] if wanted == "all" or model in wanted]


def planned_runs(config):
    """(model, strategy) pairs the experiments ask for, each once, in config order.

    An experiment limited to some models runs on those of them in `models`, so
    `--config models=[...]` narrows every experiment.
    """
    runs = {}
    for plan in config["experiments"].values():
        for model in experiment_models(config, plan):
            for strategy in plan["strategies"]:
                runs[(model, strategy)] = None
    return list(runs)


def headline_strategies(config):
    """The first experiment's strategies: the headline of the figure and of the report's
    summary tables (a table of every strategy would be unreadable)."""
    return next(iter(config["experiments"].values()))["strategies"]


def headline_strategy(config, model):
    """The strategy a model's summary leads with: the first headline strategy run on it, or else
    its first strategy (an experiment limited to other models leaves it out)."""
    run = model_strategies(config, model)
    return next((name for name in headline_strategies(config) if name in run), run[0])


def model_strategies(config, model):
    """The strategies run on `model`, in config order."""
    return [strategy for run_model, strategy in planned_runs(config) if run_model == model]


def preservation_points(config, model):
    """The preservation curve of `model` (seed 004): (k, strategy) for the strategies run on it
    that keep only the top k% of weights by magnitude, with (0, strategy) for the run that
    quantizes the same way and keeps nothing. Sorted by k; empty if no such pair was run."""
    curves = {}
    for name in model_strategies(config, model):
        strategy = parse_strategy(name, config["strategy_specs"][name])
        protection = strategy.protection
        if protection.is_empty or protection == type(protection)(top_percent=protection.top_percent):
            share = float(protection.top_percent or 0.0)
            curves.setdefault(repr(strategy.quantizer_spec), []).append((share, name))
    for points in curves.values():
        shares = {share for share, _ in points}
        if 0.0 in shares and len(shares) > 1:
            return sorted(points)
    return []
