rule corpus:
    input:
        texts=corpus_files,
        library=library("build_corpus.py"),
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
        "../../scripts/build_corpus.py"
