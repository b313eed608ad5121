from hfharvest.stages.identify import identify_ahead
from hfharvest.stages.shards import file_shard
from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    extractor = extractor_from(config)
    outcomes = file_shard(extractor, snakemake.params.models_file, snakemake.wildcards.scatteritem)
    # identified while the Hub answers: the identify job then finds these models cached
    outcomes = identify_ahead(outcomes, config)
    write_stage(snakemake.output.shard, "fetch_file_models", outcomes, extractor)
