from hfharvest.enrich import enrich_datasets
from hfharvest.jsonio import read_json
from hfharvest.workflow import client_from, job, write_entities

with job(snakemake) as config:
    client = client_from(config["hub"])
    mapping = read_json(snakemake.input.mapping)
    entities = enrich_datasets(client, mapping, config["hf"]["threads"])
    write_entities(snakemake.output.entities, entities)
