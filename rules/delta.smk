# What changed in the listing since the previous successful run on this data root and endpoint.
# The listing's (model id, sha) rows are kept beside it, gzip-compressed: the next run's delta
# reads them instead of the listing's whole records.


rule write_delta:
    input:
        listing=rules.list_latest_models.output.listing,
    output:
        delta=run_file("delta.json"),
        shas=run_file("shards/latest_listing_shas.json.gz"),
    log:
        log_file("write_delta"),
    benchmark:
        benchmark_file("write_delta")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=10,
    params:
        hub=HUB,
        pointer=str(LAST_RUN),
    script:
        "../scripts/write_delta.py"
