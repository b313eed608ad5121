from hfharvest.workflow import extractor_from, start_log, write_stage

start_log(snakemake.log[0])
params = snakemake.params
extractor = extractor_from(params)
outcomes = extractor.latest(params.num_models, params.offset)
write_stage(snakemake.output.models, "extract_latest", outcomes, extractor)
