rule salience_mask:
    input:
        model="resources/models/{model}",
        split="resources/corpus/calibration.jsonl",
        library=library("quantize/salience_mask.py"),
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
        "../../scripts/quantize/salience_mask.py"


rule quantize_evaluate:
    input:
        unpack(quantize_inputs),
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        reference="results/reference/{model}.safetensors",
        library=library("quantize/quantize_evaluate.py"),
    wildcard_constraints:
        strategy=STRATEGY_PATTERN,
    output:
        scores="results/scores/{model}/{strategy}.tsv",
        storage="results/storage/{model}/{strategy}.json",
        timing="results/timing/{model}/{strategy}.json",
    params:
        languages=config["languages"],
        groups=config["groups"],
        evaluation=config["evaluation"],
        spec=lambda wildcards: config["strategy_specs"][wildcards.strategy],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/quantize/{model}/{strategy}.log",
    priority: quantize_priority
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/quantize/quantize_evaluate.py"


rule quantize_all:
    input:
        run_files("results/scores/{model}/{strategy}.tsv"),
