from hfharvest.enrich import enrich_datasets
from hfharvest.jsonio import read_json
from hfharvest.workflow import client_from, start_log, write_entities

start_log(snakemake.log[0])
client = client_from(snakemake.params.hub)
entities = enrich_datasets(
    client, read_json(snakemake.input.mapping), snakemake.params.http_threads
)
write_entities(snakemake.output.entities, entities)
