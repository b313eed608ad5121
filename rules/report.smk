# Plots for `snakemake --report report.html`, from the run's files and the jobs' benchmarks.


report: "../report/workflow.rst"


rule plot_run_report:
    input:
        models=rules.add_ancestor_models.output.models,
        licenses=rules.identify.output.licenses,
        summary=rules.summarize_run.output.summary,
        benchmarks=job_benchmarks(),
    output:
        pipeline_tags=report(
            run_file("report/models_per_pipeline_tag.png"),
            category="Models",
            caption="../report/pipeline_tags.rst",
        ),
        libraries=report(
            run_file("report/models_per_library.png"),
            category="Models",
            caption="../report/libraries.rst",
        ),
        licenses=report(
            run_file("report/models_per_licence.png"),
            category="Models",
            caption="../report/licenses.rst",
        ),
        lineage=report(
            run_file("report/lineage_depth.png"),
            category="Lineage",
            caption="../report/lineage.rst",
        ),
        entities=report(
            run_file("report/entities_enriched.png"),
            category="Entities",
            caption="../report/entities.rst",
        ),
        timings=report(
            run_file("report/job_timings.png"),
            category="Timings",
            caption="../report/timings.rst",
        ),
    log:
        log_file("plot_run_report"),
    benchmark:
        benchmark_file("plot_run_report")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=10,
    params:
        benchmarks=lambda wildcards, input: os.path.commonpath(input.benchmarks),
    script:
        "../scripts/plot_run_report.py"


rule plot_lineage_families:
    input:
        edges=normalized("tables/lineage_edges.parquet"),
    output:
        families=report(
            normalized("report/lineage_families.png"),
            category="Lineage",
            caption="../report/lineage_families.rst",
        ),
    log:
        log_file("plot_lineage_families"),
    benchmark:
        benchmark_file("plot_lineage_families")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    script:
        "../scripts/plot_lineage_families.py"
