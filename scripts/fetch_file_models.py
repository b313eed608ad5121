from hfharvest.stages.shards import file_shard
from hfharvest.workflow import extractor_from, start_log, write_stage

start_log(snakemake.log[0])
extractor = extractor_from(snakemake.params)
outcomes = file_shard(extractor, snakemake.input.ids, snakemake.wildcards.scatteritem)
write_stage(snakemake.output.shard, "fetch_file_models", outcomes, extractor)
