from pathlib import Path

from hfharvest.jsonio import write_json
from hfharvest.normalize.catalogue import build_catalogue
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
tables = {Path(path).stem: path for path in snakemake.input.tables}
memory_limit = snakemake.config["normalize"]["duckdb_memory_limit"]
counts = build_catalogue(tables, snakemake.output.database, memory_limit)
write_json(snakemake.output.counts, counts)
