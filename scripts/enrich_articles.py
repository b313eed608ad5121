from hfharvest.enrich.articles import enrich_articles
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import arxiv_endpoint
from hfharvest.workflow import job, write_entities

with job(snakemake) as config:
    arxiv = config["arxiv"]  # endpoint in params; batch size and pacing only change how fast
    entities = enrich_articles(
        iter_entries(snakemake.input.mapping),
        arxiv_endpoint(snakemake.params.arxiv["endpoint"]),
        batch_size=arxiv["batch_size"],
        delay_s=arxiv["delay_s"],
    )
    write_entities(snakemake.output.entities, entities)
