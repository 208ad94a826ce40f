rule weight_universe:
    input:
        model="resources/models/{model}",
        masks=salience_masks_of,
        library=library("weight_universe.py"),
    output:
        components=report(
            "results/universe/{model}/components.tsv", caption="../report/universe.rst", category="Weight universe"
        ),
        protected=report(
            "results/universe/{model}/protected.tsv", caption="../report/protected.rst", category="Weight universe"
        ),
    params:
        specs=lambda wildcards: {name: config["strategy_specs"][name] for name in model_strategies(config, wildcards.model)},
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/universe/{model}.log",
    threads: MODEL_THREADS
    resources:
        **model_job(),
    script:
        "../../scripts/weight_universe.py"


rule universe_all:
    input:
        expand("results/universe/{model}/{table}.tsv", model=MODELS, table=["components", "protected"]),
