from hfharvest.joblog import start_log
from hfharvest.stages.identify import identify_all, kind_outputs

start_log(snakemake.log[0])
identify_all(
    kind_outputs(dict(snakemake.output.items()), snakemake.params.kinds),
    snakemake.input.models,
    snakemake.config,
    snakemake.threads,
)
