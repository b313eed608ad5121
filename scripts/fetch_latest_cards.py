from hfharvest.stages.shards import latest_shard
from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    extractor = extractor_from(config)
    outcomes = latest_shard(extractor, snakemake.input.listing, snakemake.wildcards.scatteritem)
    write_stage(snakemake.output.shard, "fetch_latest_cards", outcomes, extractor)
