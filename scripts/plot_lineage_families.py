from hfharvest.normalize.families import plot_families
from hfharvest.plot_cache import plot_cache
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
cache = plot_cache(snakemake.config)  # reused pictures change no output: not params
plot_families(snakemake.input.edges, snakemake.output.families, cache=cache)
