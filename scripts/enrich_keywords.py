from hfharvest.enrich.keywords import enrich_keywords
from hfharvest.joblog import start_log
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import write_entities

start_log(snakemake.log[0])
write_entities(snakemake.output, enrich_keywords(iter_entries(snakemake.input.mapping)))
