from collections import Counter

from hfharvest.enrich.articles import enrich_articles
from hfharvest.jsonio import iter_entries
from hfharvest.stages.enrich import arxiv_endpoint
from hfharvest.workflow import entity_cache, job, write_entities

with job(snakemake) as config:
    sent = Counter()
    arxiv = config["arxiv"]  # endpoint in params; batch size and pacing only change how fast
    entities = enrich_articles(
        iter_entries(snakemake.input.mapping),
        arxiv_endpoint(snakemake.params.arxiv["endpoint"]),
        batch_size=arxiv["batch_size"],
        delay_s=arxiv["delay_s"],
        retries=arxiv["retries"],
        timeout=arxiv["timeout_s"],
        cache=entity_cache(config, "articles"),
        max_age_h=arxiv["max_age_h"],
        absent_max_age_h=arxiv["absent_max_age_h"],
        deadline_s=arxiv["deadline_s"],
        max_redirects=arxiv["max_redirects"],
        requests_sent=sent,
    )
    write_entities(snakemake.output, entities, sent)
