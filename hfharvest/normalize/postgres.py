"""Load the Parquet tables into PostgreSQL, idempotently: a rerun replaces the run's rows.

The DSN comes from the environment (the variable `normalize.postgres_dsn_env` names) and is
never written anywhere: not in params, logs or outputs. Tables live in their own schema; all of
one run's rows are deleted and copied again in one transaction, so a reader never sees half a run.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from psycopg import connect, sql

from .queries import QUERIES, VIEWS

SCHEMA = "hfharvest"


def _pg_type(kind: pa.DataType) -> str:
    """The column types tables.py writes (Parquet reads timestamps back in ms: any unit)."""
    if pa.types.is_timestamp(kind):
        return "timestamptz"
    if pa.types.is_list(kind):
        return "text[]"
    return {pa.string(): "text", pa.int64(): "bigint", pa.bool_(): "boolean"}[kind]


def _create_table(name: str, schema: pa.Schema) -> sql.Composed:
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(_pg_type(f.type))) for f in schema
    )
    return sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
        sql.Identifier(SCHEMA, name), columns
    )


def load_run(dsn: str, tables: dict[str, Path], run_id: str, batch_rows: int) -> dict[str, int]:
    """Replace `run_id`'s rows of every table with the Parquet files' rows; return row counts."""
    counts = {}
    with connect(dsn) as conn, conn.transaction(), conn.cursor() as cur:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA)))
        cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(SCHEMA)))
        for name, path in tables.items():
            parquet = pq.ParquetFile(path)
            cur.execute(_create_table(name, parquet.schema_arrow))
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE run_id = %s").format(sql.Identifier(name)), [run_id]
            )
            counts[name] = _copy(cur, name, parquet, run_id, batch_rows)
        for name, text in VIEWS.items():
            cur.execute(
                sql.SQL("CREATE OR REPLACE VIEW {} AS {}").format(
                    sql.Identifier(name), sql.SQL(text)
                )
            )
    return counts


def _copy(cur, name: str, parquet: pq.ParquetFile, run_id: str, batch_rows: int) -> int:
    """Stream the file's rows into the table as `run_id`'s (the run being loaded decides)."""
    names = parquet.schema_arrow.names
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, names))
    )
    rows = 0
    with cur.copy(statement) as copy:
        for batch in parquet.iter_batches(batch_size=batch_rows):
            for row in batch.to_pylist():
                row["run_id"] = run_id
                copy.write_row([_pg_value(row[n]) for n in names])
                rows += 1
    return rows


def _pg_value(value):
    """PostgreSQL's text cannot hold NUL, which JSON (so a Hub tag) and Parquet can: it is written
    as U+FFFD, as undecodable bytes are elsewhere, rather than failing the whole load."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if isinstance(value, list):
        return [_pg_value(item) for item in value]
    return value


def ask(dsn: str, query: str, **params) -> list[tuple]:
    """One of the README's questions, answered by the server."""
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(SCHEMA)))
        cur.execute(QUERIES[query], params)
        return cur.fetchall()
