"""What a configuration runs: which (model, strategy) pairs, which strategies head the report,
and which runs form a preservation curve. Read from a configuration that
quant_fairness.config.check_config accepted; the workflow (workflow/rules/common.smk) and the
report plan with it.

    planned_runs(config)                   # [(model, strategy), ...], each once, in config order
    model_strategies(config, "smollm2-135m")
    headline_strategy(config, "smollm2-135m")
    practical_strategies(config, "smollm2-135m")
    swept_models(config)                   # the models the layer sweep runs on
"""

from quant_fairness.quantize.strategies import parse_strategy


def experiment_models(config, plan):
    """The models an experiment runs on: its `models` that are in `models`, or all of them
    (no `models`, or `models: all`, which a config merged over another restores)."""
    wanted = plan.get("models", "all")
    return [model for model in config["models"] if wanted == "all" or model in wanted]


def swept_models(config):
    """The models the layer sweep runs on: `sweep.models` (a list, `all` or absent: every model)."""
    return experiment_models(config, config["sweep"])


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


def practical_strategies(config, model):
    """The strategies that the experiments the config calls practical (`report.practical`: those a
    user would deploy) ran on `model`, in config order; the abstract leads with them."""
    named = [
        name
        for experiment in config["report"]["practical"]
        if model in experiment_models(config, plan := config["experiments"][experiment])
        for name in plan["strategies"]
    ]
    return list(dict.fromkeys(named))


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


def calibration_families(config, model):
    """{strategy calibrated on every language: [strategies run on `model` that differ from it only in
    calibration_languages]}: the calibration-language comparisons, each setting against `all`."""
    families = {}
    for name in model_strategies(config, model):
        strategy = parse_strategy(name, config["strategy_specs"][name])
        if strategy.needs_calibration:
            spec = {key: value for key, value in strategy.quantizer_spec.items() if key != "calibration_languages"}
            families.setdefault(repr((spec, strategy.protection)), []).append(strategy)
    comparisons = {}
    for members in families.values():
        base = next((member for member in members if member.calibration_languages == "all"), None)
        if base is not None and len(members) > 1:
            comparisons[base.name] = [member.name for member in members if member is not base]
    return comparisons
