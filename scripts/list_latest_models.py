from hfharvest.workflow import extractor_from, start_log, write_stage

start_log(snakemake.log[0])
params = snakemake.params
extractor = extractor_from(params, cache=False)
listing = extractor.listing_outcomes(params.num_models, params.offset)
write_stage(snakemake.output.listing, "list_latest_models", listing, extractor)
