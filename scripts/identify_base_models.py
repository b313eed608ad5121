from hfharvest.identify import base_model_mappings
from hfharvest.jsonio import iter_models, read_key, write_json
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
renamed = read_key(snakemake.input.models, "renamed", {}) or {}
mapping, relations = base_model_mappings(iter_models(snakemake.input.models), renamed)
write_json(snakemake.output.mapping, mapping)
write_json(snakemake.output.relations, relations)
