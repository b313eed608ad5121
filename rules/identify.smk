# Eight identify rules side by side, all reading the models with their ancestors.
# Each writes identified/<kind>.json: {model_id: [entity ids, sorted]}; `identifiers` holds
# the model's own ids (Hub URL, repository DOI). Datasets and base models also say where each
# was stated (`metadata` or `card_text`).
IDENTIFY_KINDS = [
    "articles",
    "keywords",
    "licenses",
    "languages",
    "tasks",
    "identifiers",
]


for kind in IDENTIFY_KINDS:

    rule:
        name:
            f"identify_{kind}"
        input:
            models=rules.add_ancestor_models.output.models,
        output:
            mapping=run_file(f"identified/{kind}.json"),
        log:
            log_file(f"identify_{kind}"),
        benchmark:
            benchmark_file(f"identify_{kind}")
        conda:
            "../environment.yml"
        resources:
            mem_mb=2048,
            runtime=30,
        params:
            kind=kind,
        script:
            "../scripts/identify.py"


rule identify_base_models:
    input:
        models=rules.add_ancestor_models.output.models,
    output:
        mapping=run_file("identified/base_models.json"),
        relations=run_file("identified/base_model_relations.json"),
    log:
        log_file("identify_base_models"),
    benchmark:
        benchmark_file("identify_base_models")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=30,
    params:
        kind="base_models",
    script:
        "../scripts/identify.py"


rule identify_datasets:
    input:
        models=rules.add_ancestor_models.output.models,
    output:
        mapping=run_file("identified/datasets.json"),
        sources=run_file("identified/dataset_sources.json"),
    log:
        log_file("identify_datasets"),
    benchmark:
        benchmark_file("identify_datasets")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=30,
    params:
        kind="datasets",
    script:
        "../scripts/identify.py"
