from hfharvest.enrich import enrich_base_models
from hfharvest.jsonio import read_json
from hfharvest.stages.enrich import ancestors_subset, mentioned_ids
from hfharvest.workflow import start_log, write_entities

start_log(snakemake.log[0])
mapping = read_json(snakemake.input.mapping)
ancestors = ancestors_subset(snakemake.input.models, mentioned_ids(mapping))
write_entities(snakemake.output, enrich_base_models(ancestors, mapping))
