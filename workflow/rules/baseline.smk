rule baseline:
    input:
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        library=library("score.py"),
    output:
        scores="results/scores/{model}/baseline.tsv",
    params:
        languages=config["languages"],
        evaluation=config["evaluation"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/baseline/{model}.log",
    threads: MODEL_THREADS
    resources:
        mem_mb=8000,
    script:
        "../../scripts/score.py"


rule baseline_all:
    input:
        expand("results/scores/{model}/baseline.tsv", model=MODELS),
