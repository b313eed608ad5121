from hfharvest.stages.merge import merge_artifacts
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
outcomes = merge_artifacts(list(snakemake.input))  # latest, then the models file's
write_stage(snakemake.output.models, "merge_models", outcomes)
