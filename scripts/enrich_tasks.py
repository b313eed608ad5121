from hfharvest.enrich.tasks import enrich_tasks
from hfharvest.jsonio import iter_entries
from hfharvest.workflow import client_from, job, write_entities

with job(snakemake) as config:
    client = client_from(config["hub"])
    entities = enrich_tasks(iter_entries(snakemake.input.mapping), client)
    write_entities(snakemake.output, entities)
