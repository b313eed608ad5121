from hfharvest.stages.shards import latest_shard
from hfharvest.workflow import extractor_from, start_log, write_stage

start_log(snakemake.log[0])
extractor = extractor_from(snakemake.params)
outcomes = latest_shard(extractor, snakemake.input.listing, snakemake.wildcards.scatteritem)
write_stage(snakemake.output.shard, "fetch_latest_cards", outcomes, extractor)
