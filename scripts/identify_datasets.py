from hfharvest.identify import dataset_provenance
from hfharvest.jsonio import iter_models, write_json
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
sources = dataset_provenance(iter_models(snakemake.input.models))
write_json(snakemake.output.mapping, {model: list(datasets) for model, datasets in sources.items()})
write_json(snakemake.output.sources, sources)
