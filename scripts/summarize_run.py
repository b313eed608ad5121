from hfharvest.jsonio import write_json
from hfharvest.stages.summary import summarize
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
inputs = snakemake.input
stages = {name: inputs[name] for name in snakemake.params.stages}
summary = summarize(snakemake.params.run_folder, stages, inputs.identified, inputs.enriched)
write_json(snakemake.output.summary, summary)
