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

from quant_fairness.data.sources import check_corpus
from quant_fairness.data.speakers import SPEAKER_SCALE
from quant_fairness.errors import QuantFairnessError
from quant_fairness.plan import planned_runs
from quant_fairness.quantize.strategies import check_packable, parse_strategy, strategy_named


def _schema_error(error):
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    return QuantFairnessError(f"config {where}: {error.message}")


def check_config(config, schema_path):
    """Return `config` unchanged if valid; raise QuantFairnessError otherwise."""
    if not isinstance(config, dict):
        raise QuantFairnessError(f"config must be a mapping, got {type(config).__name__}")
    schema = yaml.safe_load(Path(schema_path).read_text())
    error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(config))
    if error is not None:
        raise _schema_error(error)
    languages = config["languages"]
    check_corpus(config["corpus"], languages)
    _check_groups("groups", config["groups"], languages)
    _check_groups("stats.seed_protocol.groups", config["stats"]["seed_protocol"]["groups"], languages)
    _check_resource_levels(config["resource_levels"], languages)
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
        if local is not None:
            _check_local_model(model, Path(local))
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
        _check_models_defined(config, plan, f"experiments.{experiment}")
        for strategy in plan["strategies"]:
            strategy_named(strategy, config["strategy_specs"], f"experiments.{experiment}: ")
    for experiment in config["report"]["practical"]:
        if experiment not in config["experiments"]:
            raise QuantFairnessError(
                f"report.practical: experiment {experiment!r} is not defined; "
                f"expected some of {sorted(config['experiments'])}"
            )
    _check_segment_counts(config)
    _check_calibration_languages(config)
    return config


def _check_calibration_languages(config):
    """Every language a strategy calibrates on is one of the run's: otherwise its calibration set
    would be empty (or silently smaller) when its job starts."""
    for name in sorted({strategy for _, strategy in planned_runs(config)}):
        chosen = parse_strategy(name, config["strategy_specs"][name]).calibration_languages
        for lang in chosen if isinstance(chosen, tuple) else ():
            if lang not in config["languages"]:
                raise QuantFairnessError(
                    f"strategy {name!r}: calibration language {lang!r} is not in languages {config['languages']}; "
                    "its calibration set would be empty"
                )


def _check_groups(where, groups, languages):
    """Every group language is configured, and no language is both high- and low-resource."""
    for group, members in groups.items():
        for lang in members:
            if lang not in languages:
                raise QuantFairnessError(
                    f"{where}.{group}: language {lang!r} is not in languages {languages}; "
                    f"set {where} to languages of this run"
                )
    both = sorted(set(groups["high"]) & set(groups["low"]))
    if both:
        raise QuantFairnessError(f"{where}: language {both[0]!r} is in both high and low; a language is in one group")


def _check_resource_levels(levels, languages):
    """A scale may cover languages the run leaves out (a published scale reused), but each of its
    codes must be a real language tag: a typo such as 'hb' for 'he' would otherwise silently drop
    that language from every correlation."""
    import langcodes

    if SPEAKER_SCALE in levels:
        raise QuantFairnessError(
            f"resource_levels.{SPEAKER_SCALE} is built in (from results/corpus/languages.tsv): name the scale otherwise"
        )
    for scale, per_language in levels.items():
        for code in per_language:
            if code not in languages and not langcodes.tag_is_valid(code):
                unscaled = [lang for lang in languages if lang not in per_language]
                raise QuantFairnessError(
                    f"resource_levels.{scale}: {code!r} is not a language code (languages without a level "
                    f"in this scale: {', '.join(unscaled) or 'none'})"
                )


# Files of which a Hugging Face model folder needs one to load its tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model", "vocab.json", "spiece.model", "vocab.txt")


def _check_local_model(model, folder):
    if not (folder / "config.json").is_file():
        raise QuantFairnessError(f"model {model!r}: local folder {str(folder)!r} is missing or has no config.json")
    if not any((folder / name).is_file() for name in TOKENIZER_FILES):
        raise QuantFairnessError(
            f"model {model!r}: local folder {str(folder)!r} has no tokenizer (none of {', '.join(TOKENIZER_FILES)}); "
            "save it beside the model with tokenizer.save_pretrained(folder)"
        )


def _check_segment_counts(config):
    """Settings that take the first N segments of a split ask for no more than the split has."""
    splits = config["corpus"]["splits"]
    stats = config["stats"]
    asked = [
        ("sweep.segments", config["sweep"]["segments"], "selection"),
        ("stats.noise_floor_segments", stats["noise_floor_segments"], "test"),
        ("stats.seed_protocol.segments", stats["seed_protocol"]["segments"], "test"),
    ]
    for name in sorted({strategy for _, strategy in planned_runs(config)}):
        strategy = parse_strategy(name, config["strategy_specs"][name])
        if strategy.needs_salience:
            asked.append((f"strategy {name!r} salience segments", strategy.protection.salience.segments, "calibration"))
    for where, count, split in asked:
        if count > splits[split]:
            raise QuantFairnessError(
                f"{where} {count} is more than the {splits[split]} segments per language of the {split} split "
                f"(corpus.splits.{split})"
            )


def _check_models_defined(config, plan, where):
    """Every model a plan's `models` names (an experiment's, the sweep's) is defined."""
    wanted = plan.get("models", "all")
    for model in [] if wanted == "all" else wanted:
        if model not in config["model_sources"]:
            raise QuantFairnessError(
                f"{where}: model {model!r} is not defined; expected one of {sorted(config['model_sources'])}"
            )


def _check_sweep(config):
    _check_models_defined(config, config["sweep"], "sweep.models")
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
