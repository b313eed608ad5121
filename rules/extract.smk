# The Hub calls are I/O-bound: `hf.threads` workers wait on the network, so a rule claims
# one core and one unit of the `hf_api` budget, and parallel jobs share the Hub politely.
# README fetching is split into `hf.shards` jobs (Snakemake scatter/gather); the gathered
# files are the same for any number of shards. Shard files are temp(): their gather holds the
# same records, so a run folder keeps one copy; a rerun that needs them fetches them again
# from the caches (the gathers take `retry_failures` so that a retry reaches the fetch jobs).
# The listing and the two gathers are kept gzip-compressed (`.json.gz`, read back by jsonio):
# reruns and retries need them, the delta reads the listing of the run before, and every run
# would otherwise keep three more plain copies of its records beside hf_models.json.


rule list_latest_models:
    output:
        listing=run_file("shards/latest_listing.json.gz"),
    log:
        log_file("list_latest_models"),
    benchmark:
        benchmark_file("list_latest_models")
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=60,
        hf_api=1,
    params:
        hub=HUB,
        num_models=config["hf"]["num_models"],
        offset=config["hf"]["offset"],
    script:
        "../scripts/list_latest_models.py"


rule fetch_latest_cards:
    input:
        listing=rules.list_latest_models.output.listing,
    output:
        shard=temp(run_file("shards/latest/{scatteritem}.json")),
    log:
        log_file("fetch_latest_cards/{scatteritem}"),
    benchmark:
        benchmark_file("fetch_latest_cards/{scatteritem}")
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=120,
        hf_api=1,
    params:
        hub=HUB,
        retry=config["retry_failures"],
    script:
        "../scripts/fetch_latest_cards.py"


rule extract_latest:
    input:
        listing=rules.list_latest_models.output.listing,
        shards=gather.latest(run_file("shards/latest/{scatteritem}.json")),
    output:
        models=run_file("hf_models_latest.json.gz"),
    log:
        log_file("extract_latest"),
    benchmark:
        benchmark_file("extract_latest")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=30,
    params:
        retry=config["retry_failures"],
    script:
        "../scripts/extract_latest.py"


rule split_models_file:
    input:
        unpack(models_file_input),
    output:
        ids=run_file("shards/models_file_ids.json"),
    log:
        log_file("split_models_file"),
    benchmark:
        benchmark_file("split_models_file")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        models_file=config["hf"]["models_file"],
    script:
        "../scripts/split_models_file.py"


rule fetch_file_models:
    input:
        unpack(models_file_input),
    output:
        shard=temp(run_file("shards/from_file/{scatteritem}.json")),
    log:
        log_file("fetch_file_models/{scatteritem}"),
    benchmark:
        benchmark_file("fetch_file_models/{scatteritem}")
    conda:
        "../environment.yml"
    threads: 1
    resources:
        mem_mb=2048,
        runtime=120,
        hf_api=1,
    params:
        hub=HUB,
        retry=config["retry_failures"],
        models_file=config["hf"]["models_file"],
    script:
        "../scripts/fetch_file_models.py"


rule extract_from_file:
    input:
        ids=rules.split_models_file.output.ids,
        shards=gather.from_file(run_file("shards/from_file/{scatteritem}.json")),
    output:
        models=run_file("hf_models_from_file.json.gz"),
    log:
        log_file("extract_from_file"),
    benchmark:
        benchmark_file("extract_from_file")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=30,
    params:
        retry=config["retry_failures"],
    script:
        "../scripts/extract_from_file.py"


rule merge_models:
    input:
        unpack(merged_extracts),
    output:
        models=run_file("hf_models.json"),
    log:
        log_file("merge_models"),
    benchmark:
        benchmark_file("merge_models")
    conda:
        "../environment.yml"
    resources:
        mem_mb=2048,
        runtime=10,
    script:
        "../scripts/merge_models.py"
