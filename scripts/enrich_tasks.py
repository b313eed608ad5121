from hfharvest.enrich import enrich_tasks
from hfharvest.jsonio import read_json
from hfharvest.workflow import client_from, job, write_entities

with job(snakemake) as config:
    client = client_from(config["hub"])
    entities = enrich_tasks(read_json(snakemake.input.mapping), client)
    write_entities(snakemake.output, entities)
