"""The embedded catalogue: a DuckDB file built from the Parquet tables, with the views of
queries.py. `python -m hfharvest.normalize.catalogue <db> <query> [name=value ...]` prints
one of the README's questions."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import duckdb

from . import TABLES
from .queries import QUERIES, VIEWS, duckdb_sql


def build_catalogue(tables: dict[str, Path], path: Path, memory_limit: str = "512MB") -> dict:
    """Load every table into a new DuckDB file, create the views, rename it into place."""
    unknown = set(tables) - set(TABLES)
    # Names become SQL identifiers: only the tables tables.py writes (TABLES, which it checks:
    # not its SCHEMAS, whose import, pyarrow and the row builders, was two thirds of the job's
    # start-up CPU).
    if unknown:
        raise ValueError(f"not a catalogue table: {sorted(unknown)}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.unlink(tmp)  # DuckDB creates the file itself
    try:
        with duckdb.connect(tmp, config={"memory_limit": memory_limit, "threads": 1}) as db:
            for name, parquet in tables.items():
                db.execute(f"CREATE TABLE {name} AS SELECT * FROM read_parquet(?)", [str(parquet)])
            for name, sql in VIEWS.items():
                db.execute(f"CREATE VIEW {name} AS {sql}")
            counts = {
                name: db.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in tables
            }
            db.execute("CHECKPOINT")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return counts


def ask(db_path: Path, query: str, **params) -> list[tuple]:
    """One of the README's questions, answered from a catalogue file (opened read-only): its
    rows, as `postgres.ask` gives them."""
    with duckdb.connect(str(db_path), read_only=True) as db:
        return db.execute(duckdb_sql(QUERIES[query]), params).fetchall()


def main(argv: list[str]) -> None:
    db_path, query, *pairs = argv
    params = dict(pair.split("=", 1) for pair in pairs)
    if "limit" in params:
        params["limit"] = int(params["limit"])
    # DuckDB draws the table itself: no pandas, whose import alone costs Snakemake 0.25 s of
    # start-up in every local run once it is installed (bench/README.md "Small runs").
    with duckdb.connect(str(db_path), read_only=True) as db:
        answer = db.sql(duckdb_sql(QUERIES[query]), params=params)
        answer.show(max_width=160, max_col_width=60, max_rows=10_000)


if __name__ == "__main__":
    main(sys.argv[1:])
