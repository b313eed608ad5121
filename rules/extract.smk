# The Hub calls are I/O-bound: `http_threads` workers wait on the network, so a rule claims
# one core and one unit of the `hf_api` budget, and parallel jobs share the Hub politely.


rule extract_latest:
    output:
        models=run_file("hf_models_latest.json"),
    log:
        log_file("extract_latest"),
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=120,
        hf_api=1,
    params:
        hub=HUB,
        num_models=config["hf"]["num_models"],
        offset=config["hf"]["offset"],
        http_threads=config["hf"]["threads"],
        cache_dir=CARD_CACHE,
    script:
        "../scripts/extract_latest.py"


rule extract_from_file:
    input:
        unpack(models_file_input),
    output:
        models=run_file("hf_models_from_file.json"),
    log:
        log_file("extract_from_file"),
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=120,
        hf_api=1,
    params:
        hub=HUB,
        models_file=config["hf"]["models_file"],
        http_threads=config["hf"]["threads"],
        cache_dir=CARD_CACHE,
    script:
        "../scripts/extract_from_file.py"


rule merge_models:
    input:
        latest=rules.extract_latest.output.models,
        from_file=rules.extract_from_file.output.models,
    output:
        models=run_file("hf_models.json"),
    log:
        log_file("merge_models"),
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=10,
    script:
        "../scripts/merge_models.py"
