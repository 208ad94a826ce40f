rule figure_delta_bpb:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        library=library("report/plot_per_language.py"),
    output:
        report("results/figures/delta_bpb.png", caption="../report/delta_bpb.rst", category="Figures"),
    params:
        figure="delta_bpb",
        models=MODELS,
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
        "../../scripts/report/plot_per_language.py"


rule figure_divergence:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        library=library("report/plot_per_language.py"),
    output:
        report("results/figures/divergence.png", caption="../report/divergence.rst", category="Figures"),
    params:
        figure="divergence",
        models=MODELS,
        languages=config["languages"],
        strategies=headline_strategies(config),
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/divergence.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/report/plot_per_language.py"


rule figure_calibration:
    input:
        tables=expand("results/statistics/{model}/calibration.tsv", model=MODELS),
        library=library("report/plot_calibration.py"),
    output:
        report("results/figures/calibration.png", caption="../report/calibration_figure.rst", category="Figures"),
    params:
        models=MODELS,
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/calibration.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/report/plot_calibration.py"


rule figure_preservation:
    input:
        tables=[f"results/disparity/{model}.tsv" for model in PRESERVATION],
        library=library("report/plot_preservation.py"),
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
        "../../scripts/report/plot_preservation.py"


if SWEPT:

    # Defined only where a model is swept: a request for the figure otherwise gets Snakemake's
    # one line that no rule produces it, not a plot of nothing.
    rule figure_layer_sweep:
        input:
            single=expand("results/sweep/{model}/single.tsv", model=SWEPT),
            steps=expand("results/sweep/{model}/steps.tsv", model=SWEPT),
            library=library("report/plot_layer_sweep.py"),
        output:
            report("results/figures/layer_sweep.png", caption="../report/layer_sweep.rst", category="Figures"),
        params:
            models=SWEPT,
        conda:
            "../../envs/quant-fairness.yaml"
        log:
            "logs/figures/layer_sweep.log",
        threads: 1
        resources:
            **LIGHT_JOB,
        script:
            "../../scripts/report/plot_layer_sweep.py"


rule figure_pareto:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        storage=run_files("results/storage/{model}/{strategy}.json"),
        library=library("report/plot_pareto.py"),
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
        "../../scripts/report/plot_pareto.py"


rule figure_resource_scatter:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        correlation=expand("results/statistics/{model}/correlation.tsv", model=MODELS),
        languages="results/corpus/languages.tsv",
        library=library("report/plot_resource_scatter.py"),
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
        "../../scripts/report/plot_resource_scatter.py"


rule figure_language_spectrum:
    input:
        tables=expand("results/disparity/{model}.tsv", model=MODELS),
        languages="results/corpus/languages.tsv",
        library=library("report/plot_language_spectrum.py"),
    output:
        report("results/figures/language_spectrum.png", caption="../report/language_spectrum.rst", category="Figures"),
    params:
        models=MODELS,
        strategies={model: headline_strategy(config, model) for model in MODELS},
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/figures/language_spectrum.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/report/plot_language_spectrum.py"


rule figures_all:
    input:
        FIGURES,


rule report:
    input:
        project=[str(path) for path in sorted(Path(workflow.basedir, "report").rglob("*")) if path.is_file()],
        disparity=expand("results/disparity/{model}.tsv", model=MODELS),
        models=expand("resources/models/{model}", model=MODELS),
        ranking=expand("results/statistics/{model}/ranking.tsv", model=MODELS),
        correlation=expand("results/statistics/{model}/correlation.tsv", model=MODELS),
        regression=expand("results/statistics/{model}/regression.tsv", model=MODELS),
        languages="results/corpus/languages.tsv",
        comparisons=expand("results/statistics/{model}/comparisons.tsv", model=MODELS),
        calibration=expand("results/statistics/{model}/calibration.tsv", model=MODELS),
        noise_floor=expand("results/noise_floor/{model}.tsv", model=MODELS),
        sweep_steps=expand("results/sweep/{model}/steps.tsv", model=SWEPT),
        sweep_test=expand("results/sweep/{model}/test.tsv", model=SWEPT),
        sizes=expand("results/artifacts/{model}/sizes.tsv", model=MODELS),
        effects=expand("results/artifacts/{model}/effects.tsv", model=MODELS),
        components=expand("results/universe/{model}/components.tsv", model=MODELS),
        protected=expand("results/universe/{model}/protected.tsv", model=MODELS),
        baseline=expand("results/scores/{model}/baseline.tsv", model=MODELS),
        storage=run_files("results/storage/{model}/{strategy}.json"),
        timing=run_files("results/timing/{model}/{strategy}.json"),
        stats="results/corpus/stats.tsv",
        corpus_sources="results/corpus/sources.json",
        test_split="resources/corpus/test.jsonl",
        claims="results/statistics/claims.tsv",
        figures=FIGURES,
        library=library("report/render_report.py"),
    output:
        source=directory(f"{REPORT_DIR}/source"),
        html=report(f"{REPORT_DIR}/report.html", caption="../report/report.rst", category="Report"),
        pdf=report(f"{REPORT_DIR}/report.pdf", caption="../report/report_pdf.rst", category="Report"),
        summary=f"{REPORT_DIR}/summary.json",
    params:
        config=config,
        version=Path(REPORT_DIR).name,
        template=Path(workflow.basedir) / "report",
        benchmarks={kind: job_benchmarks(kind) for kind in ("baseline", "sweep", "artifacts")},
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/report.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/report/render_report.py"


rule report_index:
    # Lists every version on disk, not only this run's: the other versions are read as found.
    input:
        f"{REPORT_DIR}/summary.json",
        library=library("report/report_index.py"),
    output:
        report("results/report/index.html", caption="../report/report_index.rst", category="Report"),
    conda:
        "../../envs/quant-fairness.yaml"
    log:
        "logs/report_index.log",
    threads: 1
    resources:
        **LIGHT_JOB,
    script:
        "../../scripts/report/report_index.py"
