rule baseline:
    input:
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        library=library("evaluate/baseline.py"),
    output:
        scores="results/scores/{model}/baseline.tsv",
        # Per predicted position, what the KL divergence of every quantized model needs (evaluate/divergence.py).
        reference="results/reference/{model}.safetensors",
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
        "../../scripts/evaluate/baseline.py"


rule baseline_all:
    input:
        expand("results/scores/{model}/baseline.tsv", model=MODELS),


rule baseline_numerics:
    # The same model and text in a second dtype: only the numerics change (the noise floor).
    input:
        model="resources/models/{model}",
        split="resources/corpus/test.jsonl",
        reference="results/reference/{model}.safetensors",
        library=library("evaluate/baseline_numerics.py"),
    output:
        scores=f"results/scores/{{model}}/baseline_{NOISE_FLOOR_DTYPE}.tsv",
    params:
        languages=config["languages"],
        evaluation={**config["evaluation"], "dtype": NOISE_FLOOR_DTYPE},
        reference_dtype=config["evaluation"]["dtype"],
        segments=config["stats"]["noise_floor_segments"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/baseline/{model}_numerics.log",
    priority: LONG_JOB_PRIORITY  # the noise floor, which the layer sweep reads
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/evaluate/baseline_numerics.py"


rule layer_sweep:
    # Blocks are chosen on the selection split; the test split only measures the chosen set.
    input:
        model="resources/models/{model}",
        selection="resources/corpus/selection.jsonl",
        test="resources/corpus/test.jsonl",
        noise_floor="results/noise_floor/{model}.tsv",
        # The test split's baseline and unprotected scores are the score tables' (same batches).
        baseline="results/scores/{model}/baseline.tsv",
        unprotected=f"results/scores/{{model}}/{config['sweep']['strategy']}.tsv",
        library=library("evaluate/layer_sweep.py"),
    output:
        single=report("results/sweep/{model}/single.tsv", caption="../report/sweep_single.rst", category="Layer sweep"),
        steps=report("results/sweep/{model}/steps.tsv", caption="../report/sweep_steps.rst", category="Layer sweep"),
        test=report("results/sweep/{model}/test.tsv", caption="../report/sweep_test.rst", category="Layer sweep"),
    params:
        sweep=config["sweep"],
        spec=config["strategy_specs"][config["sweep"]["strategy"]],
        languages=config["languages"],
        groups=config["groups"],
        reference=config["reference_language"],
        stats=config["stats"],
        evaluation=config["evaluation"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/sweep/{model}.log",
    benchmark:
        "results/benchmarks/sweep/{model}.tsv"
    priority: LONG_JOB_PRIORITY
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/evaluate/layer_sweep.py"


rule sweep_all:
    input:
        expand("results/sweep/{model}/{table}.tsv", model=SWEPT, table=["single", "steps", "test"]),
