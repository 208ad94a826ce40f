rule quantize_evaluate:
    input:
        unpack(quantize_inputs),
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        library=library("score.py"),
    wildcard_constraints:
        strategy=STRATEGY_PATTERN,
    output:
        scores="results/scores/{model}/{strategy}.tsv",
        storage="results/storage/{model}/{strategy}.json",
        timing="results/timing/{model}/{strategy}.json",
    params:
        languages=config["languages"],
        evaluation=config["evaluation"],
        spec=lambda wildcards: config["strategy_specs"][wildcards.strategy],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/quantize/{model}/{strategy}.log",
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/score.py"


rule quantize_all:
    input:
        run_files("results/scores/{model}/{strategy}.tsv"),
