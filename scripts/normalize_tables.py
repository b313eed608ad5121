import os

from hfharvest.jsonio import write_json
from hfharvest.normalize.inputs import RunInputs
from hfharvest.normalize.stage import normalize_tables
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
output = snakemake.output
run = RunInputs.from_rule(snakemake.input, snakemake.params.stages)
folder = os.path.dirname(output.tables[0])
batch_rows = snakemake.config["normalize"]["batch_rows"]
counts = normalize_tables(run, folder, snakemake.params.run_id, batch_rows)
write_json(output.counts, counts)
