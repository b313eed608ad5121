# One identify job for the eight kinds, reading the models with their ancestors once: it writes
# identified/<kind>.json, {model_id: [entity ids, sorted]}; `identifiers` holds the model's own
# ids (Hub URL, repository DOI). Datasets and base models also say where each was stated
# (`metadata` or `card_text`). The job looks each model up in its cache once; the models it does
# not answer are identified in the job, the first hfharvest.stages.identify.INLINE_MISSES of
# them, and the rest (a cold or large run) in one worker process a thread, so a warm run starts
# none.
IDENTIFY_KINDS = [
    "articles",
    "base_models",
    "datasets",
    "identifiers",
    "keywords",
    "languages",
    "licenses",
    "tasks",
]


rule identify:
    input:
        models=rules.add_ancestor_models.output.models,
    output:
        **{kind: run_file(f"identified/{kind}.json") for kind in IDENTIFY_KINDS},
        base_model_relations=run_file("identified/base_model_relations.json"),
        dataset_sources=run_file("identified/dataset_sources.json"),
    log:
        log_file("identify"),
    benchmark:
        benchmark_file("identify")
    conda:
        "../environment.yml"
    # the workers for the models the cache does not answer; Snakemake gives at most --cores
    threads: 7
    resources:
        mem_mb=4096,
        runtime=60,
    params:
        kinds=IDENTIFY_KINDS,
        # read from the config by the job; here so that a change reruns it
        max_entities_per_model=config["hf"]["max_entities_per_model"],
    script:
        "../scripts/identify.py"
