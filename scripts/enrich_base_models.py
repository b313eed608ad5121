from hfharvest.enrich.base_models import enrich_base_models
from hfharvest.joblog import start_log
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import write_entities

start_log(snakemake.log[0])
entities = enrich_base_models(snakemake.input.models, iter_entries(snakemake.input.mapping))
write_entities(snakemake.output, entities)
