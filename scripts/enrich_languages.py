from hfharvest.enrich import enrich_languages
from hfharvest.jsonio import read_json
from hfharvest.workflow import start_log, write_entities

start_log(snakemake.log[0])
write_entities(snakemake.output, enrich_languages(read_json(snakemake.input.mapping)))
