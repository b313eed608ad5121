ENRICH_RULES = [
    rules.enrich_datasets,
    rules.enrich_articles,
    rules.enrich_base_models,
    rules.enrich_tasks,
    rules.enrich_licenses,
    rules.enrich_languages,
    rules.enrich_keywords,
]


rule summarize_run:
    input:
        extract_latest=rules.extract_latest.output.models,
        extract_from_file=rules.extract_from_file.output.models,
        file_ids=rules.split_models_file.output.ids,
        merge_models=rules.merge_models.output.models,
        add_ancestor_models=rules.add_ancestor_models.output.models,
        identified=[
            run_file(f"identified/{kind}.json")
            for kind in [*ENTITY_KINDS, "identifiers"]
        ],
        enriched=[enrich.output.entities for enrich in ENRICH_RULES],
        requests=[enrich.output.requests for enrich in ENRICH_RULES],
    output:
        summary=report(
            run_file("summary.json"),
            category="Summary",
            caption="../report/summary.rst",
        ),
    log:
        log_file("summarize_run"),
    benchmark:
        benchmark_file("summarize_run")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=5,
    params:
        run_folder=lambda wildcards, output: os.path.dirname(output.summary),
        stages=[
            "extract_latest",
            "extract_from_file",
            "merge_models",
            "add_ancestor_models",
        ],
    script:
        "../scripts/summarize_run.py"
