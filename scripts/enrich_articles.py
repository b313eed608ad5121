from hfharvest.enrich import enrich_articles
from hfharvest.jsonio import read_json
from hfharvest.stages.enrich import arxiv_endpoint
from hfharvest.workflow import start_log, write_entities

start_log(snakemake.log[0])
arxiv = snakemake.params.arxiv
entities = enrich_articles(
    read_json(snakemake.input.mapping),
    arxiv_endpoint(arxiv["endpoint"]),
    batch_size=arxiv["batch_size"],
    delay_s=arxiv["delay_s"],
)
write_entities(snakemake.output.entities, entities)
