from hfharvest.jsonio import read_json
from hfharvest.stages.extract import Harvest
from hfharvest.stages.merge import merge_harvests
from hfharvest.workflow import start_log, write_stage

start_log(snakemake.log[0])
models, failures = merge_harvests(
    read_json(snakemake.input.latest), read_json(snakemake.input.from_file)
)
write_stage(snakemake.output.models, "merge_models", Harvest(models, failures))
