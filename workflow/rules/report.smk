rule report:
    input:
        project=[str(path) for path in sorted(Path(workflow.basedir, "report").rglob("*")) if path.is_file()],
        disparity=expand("results/disparity/{model}.tsv", model=MODELS),
        models=expand("resources/models/{model}", model=MODELS),
        ranking=expand("results/statistics/{model}/ranking.tsv", model=MODELS),
        correlation=expand("results/statistics/{model}/correlation.tsv", model=MODELS),
        comparisons=expand("results/statistics/{model}/comparisons.tsv", model=MODELS),
        noise_floor=expand("results/noise_floor/{model}.tsv", model=MODELS),
        sweep_steps=expand("results/sweep/{model}/steps.tsv", model=MODELS),
        sweep_test=expand("results/sweep/{model}/test.tsv", model=MODELS),
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
        library=library("render_report.py"),
    output:
        source=directory(f"{REPORT_DIR}/source"),
        html=report(f"{REPORT_DIR}/report.html", caption="../report/report.rst", category="Report"),
        pdf=report(f"{REPORT_DIR}/report.pdf", caption="../report/report_pdf.rst", category="Report"),
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
        "../../scripts/render_report.py"
