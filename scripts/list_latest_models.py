from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    params = snakemake.params
    extractor = extractor_from(config, cache=False)
    listing = extractor.listing_outcomes(params.num_models, params.offset)
    write_stage(snakemake.output.listing, "list_latest_models", listing, extractor)
