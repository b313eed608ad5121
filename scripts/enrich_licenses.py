from hfharvest.enrich.licenses import enrich_licenses
from hfharvest.joblog import start_log
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import write_entities

start_log(snakemake.log[0])
write_entities(snakemake.output, enrich_licenses(iter_entries(snakemake.input.mapping)))
