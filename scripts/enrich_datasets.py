from hfharvest.enrich.datasets import enrich_datasets
from hfharvest.jsonio import iter_entries
from hfharvest.workflow import client_from, entity_cache, job, write_entities

with job(snakemake) as config:
    client = client_from(config["hub"])
    mapping = iter_entries(snakemake.input.mapping)
    hf = config["hf"]  # what to reuse and how to ask only changes how fast
    entities = enrich_datasets(
        client,
        mapping,
        hf["threads"],
        cache=entity_cache(config, "datasets"),
        max_age_h=hf["datasets_max_age_h"],
        bulk_min=hf["datasets_bulk_min"],
        croissant_max=hf["croissant_max"],
        listing_max_pages=hf["datasets_listing_max_pages"],
        croissant_max_bytes=int(config["hub"]["croissant_max_mb"] * 1024 * 1024),
    )
    write_entities(snakemake.output, entities)
