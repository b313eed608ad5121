rule summarize_run:
    input:
        extract_latest=rules.extract_latest.output.models,
        extract_from_file=rules.extract_from_file.output.models,
        merge_models=rules.merge_models.output.models,
        add_ancestor_models=rules.add_ancestor_models.output.models,
    output:
        summary=run_file("summary.json"),
    log:
        log_file("summarize_run"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=5,
    params:
        run_folder=lambda wildcards, output: os.path.dirname(output.summary),
    script:
        "../scripts/summarize_run.py"
