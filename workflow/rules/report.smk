rule figure_delta_bpb:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        library=library("plot_delta_bpb.py"),
    output:
        report("results/figures/delta_bpb.png", caption="../report/delta_bpb.rst", category="Figures"),
    params:
        languages=config["languages"],
        strategies=headline_strategies(config),
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/delta_bpb.log",
    script:
        "../../scripts/plot_delta_bpb.py"


rule report:
    input:
        template=Path(workflow.basedir) / "report/report.md.j2",
        disparity=expand("results/disparity/{model}.tsv", model=MODELS),
        storage=run_files("results/storage/{model}/{strategy}.json"),
        stats="results/corpus/stats.tsv",
        models=expand("resources/models/{model}", model=MODELS),
        figure="results/figures/delta_bpb.png",
        claims="results/statistics/claims.tsv",
        ranking=expand("results/statistics/{model}/ranking.tsv", model=MODELS),
        correlation=expand("results/statistics/{model}/correlation.tsv", model=MODELS),
        noise_floor=expand("results/noise_floor/{model}.tsv", model=MODELS),
        sweep_steps=expand("results/sweep/{model}/steps.tsv", model=MODELS),
        sweep_test=expand("results/sweep/{model}/test.tsv", model=MODELS),
        sizes=expand("results/artifacts/{model}/sizes.tsv", model=MODELS),
        effects=expand("results/artifacts/{model}/effects.tsv", model=MODELS),
        library=library("render_report.py"),
    output:
        report("results/report/report.html", caption="../report/report.rst", category="Report"),
    params:
        config=config,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/report.log",
    script:
        "../../scripts/render_report.py"
