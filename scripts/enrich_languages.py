from hfharvest.enrich.languages import enrich_languages
from hfharvest.joblog import start_log
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import write_entities

start_log(snakemake.log[0])
write_entities(snakemake.output, enrich_languages(iter_entries(snakemake.input.mapping)))
