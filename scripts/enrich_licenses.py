from hfharvest.enrich import enrich_licenses
from hfharvest.jsonio import read_json
from hfharvest.workflow import start_log, write_entities

start_log(snakemake.log[0])
write_entities(snakemake.output, enrich_licenses(read_json(snakemake.input.mapping)))
