from hfharvest.jsonio import write_json
from hfharvest.stages.summary import summarize
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
artifacts = {name: path for name, path in snakemake.input.items()}
write_json(snakemake.output.summary, summarize(snakemake.params.run_folder, artifacts))
