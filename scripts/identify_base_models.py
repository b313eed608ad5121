from hfharvest.identify import base_model_relations, identify_models
from hfharvest.jsonio import iter_models, write_json
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
write_json(
    snakemake.output.mapping, identify_models("base_models", iter_models(snakemake.input.models))
)
write_json(snakemake.output.relations, base_model_relations(iter_models(snakemake.input.models)))
