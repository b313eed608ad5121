from hfharvest.identify import identify_models
from hfharvest.jsonio import iter_models, write_json
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
mapping = identify_models(snakemake.params.kind, iter_models(snakemake.input.models))
write_json(snakemake.output.mapping, mapping)
