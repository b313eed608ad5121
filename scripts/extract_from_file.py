from hfharvest.jsonio import read_json
from hfharvest.stages.shards import gather, shard_tails, summed_metadata
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
shards = list(snakemake.input.shards)
outcomes = gather(shards, first_failures=read_json(snakemake.input.ids)["failures"], parsed=False)
write_stage(
    snakemake.output.models,
    "extract_from_file",
    outcomes,
    metadata=summed_metadata(shard_tails(shards)),
)
