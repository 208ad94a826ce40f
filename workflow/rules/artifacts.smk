# Seed 000's artifacts as real files: packed INT8/INT4 models, fairness patches, low-rank
# corrections, each fair model rebuilt from its files and scored, and a size table.


rule fp16_model:
    input:
        model="resources/models/{model}",
        library=library("artifacts/fp16_model.py"),
    output:
        "results/artifacts/{model}/fp16/model.safetensors",
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/artifacts/{model}/fp16.log",
    threads: 1
    resources:
        **model_job(),
    script:
        "../../scripts/artifacts/fp16_model.py"


rule pack_quantized:
    input:
        model="resources/models/{model}",
        library=library("artifacts/pack.py"),
    wildcard_constraints:
        strategy=STRATEGY_PATTERN,
    output:
        quantized=directory("results/artifacts/{model}/{strategy}/quantized"),
    params:
        spec=lambda wildcards: config["strategy_specs"][wildcards.strategy],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/artifacts/{model}/{strategy}_quantized.log",
    threads: 1
    resources:
        **model_job(),
    script:
        "../../scripts/artifacts/pack.py"


rule pack_patch:
    # The patch names the packed model it applies to by hash: the one pack_quantized wrote.
    input:
        unpack(quantize_inputs),
        model="resources/models/{model}",
        quantized=f"results/artifacts/{{model}}/{ARTIFACTS['int4']}/quantized",
        library=library("artifacts/pack.py"),
    wildcard_constraints:
        strategy=STRATEGY_PATTERN,
    output:
        patch=directory("results/artifacts/{model}/{strategy}/patch"),
    params:
        spec=lambda wildcards: config["strategy_specs"][wildcards.strategy],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/artifacts/{model}/{strategy}_patch.log",
    threads: 1
    resources:
        **model_job(),
    script:
        "../../scripts/artifacts/pack.py"


rule score_fair_artifact:
    # The patch is applied to the packed INT4 model after both SHA-256 checks, then scored.
    input:
        base=f"results/artifacts/{{model}}/{ARTIFACTS['int4']}/quantized",
        patch="results/artifacts/{model}/{strategy}/patch",
        split="resources/corpus/test.jsonl",
        model="resources/models/{model}",
        reference="results/reference/{model}.safetensors",
        library=library("artifacts/score_fair_artifact.py"),
    output:
        scores="results/artifacts/{model}/{strategy}/fair_scores.tsv",
    params:
        label=lambda wildcards: f"fair int4 ({wildcards.strategy})",
        languages=config["languages"],
        evaluation=config["evaluation"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/artifacts/{model}/{strategy}_fair_scores.log",
    benchmark:
        "results/benchmarks/artifacts/{model}/{strategy}_fair_scores.tsv"
    threads: MODEL_THREADS
    priority: LONG_JOB_PRIORITY  # started last, gemma's ran alone for a minute at the end
    resources:
        **model_job(on_device=True),
    script:
        "../../scripts/artifacts/score_fair_artifact.py"


if LOW_RANK_RANKS:

    rule low_rank_correction:
        # One job for every rank: the error's Gram matrices are decomposed once (most of the
        # correction's cost on gemma's 262k-token embedding) and the model loaded once.
        input:
            model="resources/models/{model}",
            base="results/artifacts/{model}/{strategy}/quantized",
            split="resources/corpus/test.jsonl",
            reference="results/reference/{model}.safetensors",
            library=library("artifacts/low_rank_correction.py"),
        output:
            corrections=expand("results/artifacts/{{model}}/{{strategy}}/lowrank_r{rank}.safetensors", rank=LOW_RANK_RANKS),
            scores=expand("results/artifacts/{{model}}/{{strategy}}/lowrank_r{rank}_scores.tsv", rank=LOW_RANK_RANKS),
        params:
            ranks=LOW_RANK_RANKS,
            languages=config["languages"],
            evaluation=config["evaluation"],
        conda:
            "../../envs/quant-fairness.yaml"
        log:
            "logs/artifacts/{model}/{strategy}_lowrank.log",
        benchmark:
            "results/benchmarks/artifacts/{model}/{strategy}_lowrank.tsv"
        threads: MODEL_THREADS
        priority: LONG_JOB_PRIORITY
        resources:
            **model_job(on_device=True),
        script:
            "../../scripts/artifacts/low_rank_correction.py"


rule artifact_sizes:
    input:
        unpack(artifact_files),
        model="resources/models/{model}",
        baseline="results/scores/{model}/baseline.tsv",
        noise_floor="results/noise_floor/{model}.tsv",
        library=library("artifacts/artifact_sizes.py"),
    output:
        sizes=report("results/artifacts/{model}/sizes.tsv", caption="../report/artifact_sizes.rst", category="Artifacts"),
        effects=report(
            "results/artifacts/{model}/effects.tsv", caption="../report/artifact_effects.rst", category="Artifacts"
        ),
    params:
        artifacts=ARTIFACTS,
        groups=config["groups"],
        reference=config["reference_language"],
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/artifacts/{model}/sizes.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/artifacts/artifact_sizes.py"


rule artifacts_all:
    input:
        expand("results/artifacts/{model}/{table}.tsv", model=MODELS, table=["sizes", "effects"]),


rule weight_universe:
    input:
        model="resources/models/{model}",
        masks=salience_masks_of,
        library=library("artifacts/weight_universe.py"),
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
        "../../scripts/artifacts/weight_universe.py"


rule universe_all:
    input:
        expand("results/universe/{model}/{table}.tsv", model=MODELS, table=["components", "protected"]),
