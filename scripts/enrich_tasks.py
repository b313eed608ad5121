from hfharvest.enrich import enrich_tasks
from hfharvest.jsonio import read_json
from hfharvest.workflow import client_from, start_log, write_entities

start_log(snakemake.log[0])
client = client_from(snakemake.params.hub)
write_entities(snakemake.output.entities, enrich_tasks(read_json(snakemake.input.mapping), client))
