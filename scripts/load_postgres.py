import os
from pathlib import Path

from hfharvest.jsonio import write_json
from hfharvest.normalize.postgres import SCHEMA, load_run
from hfharvest.workflow import start_log

start_log(snakemake.log[0])
settings = snakemake.config["normalize"]
# The DSN stays in the environment: never in params, logs or this rule's output.
dsn = os.environ[settings["postgres_dsn_env"]]
tables = {Path(path).stem: path for path in snakemake.input.tables}
counts = load_run(dsn, tables, snakemake.params.run_id, settings["batch_rows"])
write_json(
    snakemake.output.receipt, {"schema": SCHEMA, "run_id": snakemake.params.run_id, "rows": counts}
)
