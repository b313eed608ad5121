from hfharvest.jsonio import read_tail
from hfharvest.stages.shards import METADATA, gather, shard_tails, summed_metadata
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
listing, shards = snakemake.input.listing, list(snakemake.input.shards)
first = read_tail(listing, ("failures", *METADATA))  # one pass over the compressed listing
outcomes = gather(shards, first_failures=first.get("failures", []), parsed=False)
write_stage(
    snakemake.output.models,
    "extract_latest",
    outcomes,
    metadata=summed_metadata([first, *shard_tails(shards)]),
)
