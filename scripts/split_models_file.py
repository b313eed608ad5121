from hfharvest.jsonio import write_json
from hfharvest.stages.extract import file_ids
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
model_ids, failures = file_ids(snakemake.params.models_file)
write_json(snakemake.output.ids, {"ids": model_ids, "failures": failures})
