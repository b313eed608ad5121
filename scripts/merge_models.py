from hfharvest.stages.merge import write_merged
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
write_merged(snakemake.output.models, list(snakemake.input))  # latest, then the models file's
