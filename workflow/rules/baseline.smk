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
    benchmark:
        "results/benchmarks/baseline/{model}.tsv"
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/score.py"


rule baseline_all:
    input:
        expand("results/scores/{model}/baseline.tsv", model=MODELS),


rule baseline_numerics:
    # The same model and text in a second dtype: only the numerics change (the noise floor).
    input:
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        library=library("score.py"),
    output:
        scores=f"results/scores/{{model}}/baseline_{NOISE_FLOOR_DTYPE}.tsv",
    params:
        languages=config["languages"],
        evaluation={**config["evaluation"], "dtype": NOISE_FLOOR_DTYPE},
        segments=config["stats"]["noise_floor_segments"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/baseline/{model}_numerics.log",
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/score.py"
