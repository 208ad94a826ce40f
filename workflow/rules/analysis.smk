rule disparity:
    input:
        baseline="results/scores/{model}/baseline.tsv",
        strategies=strategy_scores,
        library=library("disparity.py"),
    output:
        report("results/disparity/{model}.tsv", caption="../report/disparity.rst", category="Disparity"),
    params:
        groups=config["groups"],
        reference=config["reference_language"],
        stats=config["stats"],
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/disparity/{model}.log",
    script:
        "../../scripts/disparity.py"
