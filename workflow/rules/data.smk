rule corpus:
    input:
        texts=corpus_files,
        library=library("data/build_corpus.py"),
    output:
        splits=expand("resources/corpus/{split}.jsonl", split=SPLITS),
        stats=report("results/corpus/stats.tsv", caption="../report/corpus_stats.rst", category="Corpus"),
        sources="results/corpus/sources.json",
    params:
        corpus=config["corpus"],
        languages=config["languages"],
        wheel_dir=WHEEL_DIR,
        data_dir="resources/corpus/source",
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/corpus.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/data/build_corpus.py"


rule language_table:
    input:
        test="resources/corpus/test.jsonl",
        models=expand("resources/models/{model}", model=MODELS),
        library=library("data/language_table.py"),
    output:
        report("results/corpus/languages.tsv", caption="../report/languages.rst", category="Corpus"),
    params:
        languages=config["languages"],
        models=MODELS,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/language_table.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/data/language_table.py"


rule model:
    input:
        local_files=local_model_files,
        library=library("data/prepare_model.py"),
    output:
        directory("resources/models/{model}"),
    params:
        source=lambda wildcards: config["model_sources"][wildcards.model],
        wheel_dir=WHEEL_DIR,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/model/{model}.log",
    # Dequantizing GGUF and saving safetensors is single-threaded: both models prepare at once.
    threads: 1
    resources:
        **model_job(),
    script:
        "../../scripts/data/prepare_model.py"


rule models_all:
    input:
        expand("resources/models/{model}", model=MODELS),
