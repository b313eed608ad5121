from hfharvest.normalize.families import plot_families
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
plot_families(snakemake.input.edges, snakemake.output.families)
