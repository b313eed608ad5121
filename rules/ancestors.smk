rule add_ancestor_models:
    input:
        models=rules.merge_models.output.models,
    output:
        models=run_file("hf_models_with_ancestors.json"),
    log:
        log_file("add_ancestor_models"),
    benchmark:
        benchmark_file("add_ancestor_models")
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=120,
        hf_api=1,
    params:
        hub=HUB,
        iterations=config["hf"]["base_model_iterations"],
        retry=config["retry_failures"],
    script:
        "../scripts/add_ancestor_models.py"
