from hfharvest.enrich.datasets import enrich_datasets
from hfharvest.jsonio import iter_entries
from hfharvest.workflow import client_from, job, write_entities

with job(snakemake) as config:
    client = client_from(config["hub"])
    mapping = iter_entries(snakemake.input.mapping)
    entities = enrich_datasets(client, mapping, config["hf"]["threads"])
    write_entities(snakemake.output.entities, entities)
