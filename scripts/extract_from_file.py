from hfharvest.workflow import extractor_from, start_log, write_stage

start_log(snakemake.log[0])
extractor = extractor_from(snakemake.params)
outcomes = extractor.from_file(snakemake.params.models_file)
write_stage(snakemake.output.models, "extract_from_file", outcomes, extractor)
