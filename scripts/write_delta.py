from pathlib import Path

from hfharvest.runconfig import cache_endpoint
from hfharvest.stages.delta import write_delta
from hfharvest.workflow import job

with job(snakemake) as config:
    delta = write_delta(
        snakemake.output.delta,
        snakemake.input.listing,
        Path(snakemake.params.pointer),
        config["run_id"],
        cache_endpoint(config),
    )
