from hfharvest.cards import store_from
from hfharvest.joblog import start_log
from hfharvest.stages.identify import cache_from, identify_run

start_log(snakemake.log[0])
cache = cache_from(snakemake.config, "base_models")
identify_run(
    "base_models",
    snakemake.input.models,
    dict(snakemake.output.items()),
    cache,
    store_from(snakemake.config),
)
