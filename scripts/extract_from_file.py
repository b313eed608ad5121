from hfharvest.stages.extract import extract_from_file
from hfharvest.workflow import client_from, start_log, write_stage

start_log(snakemake.log[0])
params = snakemake.params
client = client_from(params.hub)
harvest = extract_from_file(client, params.models_file, params.http_threads)
write_stage(snakemake.output.models, "extract_from_file", harvest, client)
