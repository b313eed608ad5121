from hfharvest.stages.extract import extract_latest
from hfharvest.workflow import client_from, start_log, write_stage

start_log(snakemake.log[0])
params = snakemake.params
client = client_from(params.hub)
harvest = extract_latest(client, params.num_models, params.offset, params.http_threads)
write_stage(snakemake.output.models, "extract_latest", harvest, client)
