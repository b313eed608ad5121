from hfharvest.stages.ancestors import STATED, add_ancestors
from hfharvest.stages.identify import cache_from
from hfharvest.workflow import extractor_from, job, write_stage

with job(snakemake) as config:
    extractor = extractor_from(config, shared=True)  # bases: records of earlier runs reused
    renamed = {}  # filled while the outcomes are written: every redirect the Hub answered
    outcomes = add_ancestors(
        extractor,
        snakemake.input.models,
        snakemake.params.iterations,
        renamed,
        cache_from(config, STATED),  # the bases each card states, by the card's digest
    )
    write_stage(
        snakemake.output.models, "add_ancestor_models", outcomes, extractor, {"renamed": renamed}
    )
