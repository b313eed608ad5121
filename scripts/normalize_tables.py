import os

from hfharvest.jsonio import write_json
from hfharvest.normalize.inputs import RunInputs
from hfharvest.normalize.stage import normalize_tables
from hfharvest.normalize.table_cache import TableCache
from hfharvest.runconfig import cache_endpoint
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
output = snakemake.output
run = RunInputs.from_rule(snakemake.input, snakemake.params.stages)
folder = os.path.dirname(output.tables[0])
# Batch size and where rows are cached change no output: from the config, not params.
config = snakemake.config
batch_rows = config["normalize"]["batch_rows"]
cached = config["normalize"]["cache"]
root = f"{config['data_root']}/cache/tables"
cache = TableCache(root, cache_endpoint(config)) if cached else None
counts = normalize_tables(run, folder, snakemake.params.run_id, batch_rows, cache)
write_json(output.counts, counts)
