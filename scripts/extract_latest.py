from hfharvest.jsonio import read_failures
from hfharvest.stages.shards import gather, summed_metadata
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
listing, shards = snakemake.input.listing, list(snakemake.input.shards)
outcomes = gather(shards, first_failures=read_failures(listing))
write_stage(
    snakemake.output.models,
    "extract_latest",
    outcomes,
    metadata=summed_metadata([listing, *shards]),
)
