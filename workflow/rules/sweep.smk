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
        library=library("layer_sweep.py"),
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
    threads: MODEL_THREADS
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/layer_sweep.py"


rule sweep_all:
    input:
        expand("results/sweep/{model}/{table}.tsv", model=MODELS, table=["single", "steps", "test"]),
