from hfharvest.stages.merge import merge_artifacts
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
outcomes = merge_artifacts([snakemake.input.latest, snakemake.input.from_file])
write_stage(snakemake.output.models, "merge_models", outcomes)
