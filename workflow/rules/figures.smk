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
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/plot_delta_bpb.py"


rule figure_preservation:
    input:
        tables=[f"results/disparity/{model}.tsv" for model in PRESERVATION],
        library=library("plot_preservation.py"),
    output:
        report("results/figures/preservation.png", caption="../report/preservation.rst", category="Figures"),
    params:
        points=PRESERVATION,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/preservation.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/plot_preservation.py"


rule figure_layer_sweep:
    input:
        single=expand("results/sweep/{model}/single.tsv", model=MODELS),
        steps=expand("results/sweep/{model}/steps.tsv", model=MODELS),
        library=library("plot_layer_sweep.py"),
    output:
        report("results/figures/layer_sweep.png", caption="../report/layer_sweep.rst", category="Figures"),
    params:
        models=MODELS,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/layer_sweep.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/plot_layer_sweep.py"


rule figure_pareto:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        storage=run_files("results/storage/{model}/{strategy}.json"),
        library=library("plot_pareto.py"),
    output:
        report("results/figures/pareto.png", caption="../report/pareto.rst", category="Figures"),
    params:
        models=MODELS,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/pareto.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/plot_pareto.py"


rule figure_resource_scatter:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        correlation=expand("results/statistics/{model}/correlation.tsv", model=MODELS),
        library=library("plot_resource_scatter.py"),
    output:
        report("results/figures/resource_scatter.png", caption="../report/resource_scatter.rst", category="Figures"),
    params:
        models=MODELS,
        resource_levels=config["resource_levels"],
        strategies={model: headline_strategy(config, model) for model in MODELS},
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/resource_scatter.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/plot_resource_scatter.py"


rule figures_all:
    input:
        FIGURES,
