# Statistics read only per-segment score tables: no model is loaded, so they rerun in seconds.


rule noise_floor:
    input:
        reference="results/scores/{model}/baseline.tsv",
        other=f"results/scores/{{model}}/baseline_{NOISE_FLOOR_DTYPE}.tsv",
        library=library("stats/noise_floor.py"),
    output:
        report("results/noise_floor/{model}.tsv", caption="../report/noise_floor.rst", category="Comparisons and claims"),
    params:
        reference_dtype=config["evaluation"]["dtype"],
        other_dtype=NOISE_FLOOR_DTYPE,
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/statistics/noise_floor_{model}.log",
    priority: LONG_JOB_PRIORITY  # the layer sweep reads it
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/stats/noise_floor.py"


rule disparity:
    # One job for the per-strategy table and the pairwise comparisons: same inputs, same resamples.
    input:
        baseline="results/scores/{model}/baseline.tsv",
        strategies=strategy_scores,
        noise_floor="results/noise_floor/{model}.tsv",
        library=library("stats/disparity.py"),
    output:
        disparity=report("results/disparity/{model}.tsv", caption="../report/disparity.rst", category="Disparity"),
        comparisons=report(
            "results/statistics/{model}/comparisons.tsv", caption="../report/comparisons.rst", category="Comparisons and claims"
        ),
        ranking=report("results/statistics/{model}/ranking.tsv", caption="../report/ranking.rst", category="Comparisons and claims"),
        calibration=report(
            "results/statistics/{model}/calibration.tsv", caption="../report/calibration.rst", category="Comparisons and claims"
        ),
    params:
        # Each calibration setting against the same quantizer calibrated on every language.
        calibration_pairs=lambda wildcards: [
            (setting, base) for base, settings in calibration_families(config, wildcards.model).items() for setting in settings
        ],
        groups=config["groups"],
        reference=config["reference_language"],
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/disparity/{model}.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/stats/disparity.py"


rule resource_correlation:
    input:
        baseline="results/scores/{model}/baseline.tsv",
        strategies=strategy_scores,
        noise_floor="results/noise_floor/{model}.tsv",
        languages="results/corpus/languages.tsv",
        library=library("stats/resource_correlation.py"),
    output:
        report(
            "results/statistics/{model}/correlation.tsv", caption="../report/correlation.rst", category="Comparisons and claims"
        ),
    params:
        resource_levels=config["resource_levels"],
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/statistics/correlation_{model}.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/stats/resource_correlation.py"


rule language_regression:
    input:
        baseline="results/scores/{model}/baseline.tsv",
        strategies=strategy_scores,
        languages="results/corpus/languages.tsv",
        library=library("stats/language_regression.py"),
    output:
        report(
            "results/statistics/{model}/regression.tsv", caption="../report/regression.rst", category="Comparisons and claims"
        ),
    params:
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/statistics/regression_{model}.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/stats/language_regression.py"


rule claims:
    input:
        claims=CLAIMS_FILE,
        baselines=expand("results/scores/{model}/baseline.tsv", model=MODELS),
        strategies=run_files("results/scores/{model}/{strategy}.tsv"),
        noise_floors=expand("results/noise_floor/{model}.tsv", model=MODELS),
        languages="results/corpus/languages.tsv",
        library=library("stats/claims.py"),
    output:
        report("results/statistics/claims.tsv", caption="../report/claims.rst", category="Comparisons and claims"),
    params:
        models=MODELS,
        groups=config["groups"],
        reference=config["reference_language"],
        resource_levels=config["resource_levels"],
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/statistics/claims.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/stats/claims.py"


rule statistics_all:
    input:
        expand("results/disparity/{model}.tsv", model=MODELS),
        expand("results/statistics/{model}/{table}.tsv", model=MODELS, table=["comparisons", "ranking", "correlation", "regression"]),
        "results/statistics/claims.tsv",
