from hfharvest.jsonio import read_json
from hfharvest.stages.ancestors import add_ancestors
from hfharvest.workflow import client_from, start_log, write_stage

start_log(snakemake.log[0])
params = snakemake.params
client = client_from(params.hub)
merged = read_json(snakemake.input.models)
harvest = add_ancestors(client, merged["models"], params.iterations, params.http_threads)
harvest.failures[:0] = merged["failures"]
write_stage(snakemake.output.models, "add_ancestor_models", harvest, client)
