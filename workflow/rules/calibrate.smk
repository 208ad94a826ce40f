rule salience_mask:
    input:
        model="resources/models/{model}",
        split="resources/corpus/calibration.jsonl",
        library=library("salience_mask.py"),
    wildcard_constraints:
        strategy=STRATEGY_PATTERN,
    output:
        mask="resources/masks/{model}/{strategy}.safetensors",
        shares=report(
            "results/salience/{model}/{strategy}.tsv", caption="../report/salience.rst", category="Salience"
        ),
    params:
        spec=lambda wildcards: config["strategy_specs"][wildcards.strategy],
        groups=config["groups"],
        evaluation=config["evaluation"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/salience/{model}/{strategy}.log",
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/salience_mask.py"
