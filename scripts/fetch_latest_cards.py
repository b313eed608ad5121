from hfharvest.stages.bulk_cards import prime_shard
from hfharvest.stages.shards import latest_shard
from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    extractor = extractor_from(config)
    listing, item = snakemake.input.listing, snakemake.wildcards.scatteritem
    bulk = prime_shard(extractor, listing, item, config["hf"])
    outcomes = latest_shard(extractor, listing, item)
    metadata = {"bulk_cards": bulk} if bulk is not None else None
    write_stage(snakemake.output.shard, "fetch_latest_cards", outcomes, extractor, metadata)
