"""The normalize stage: a run folder -> FAIR4ML JSON-LD, N-Triples, Parquet tables, a database."""

# The Parquet files of a run, by table name: `<name>.parquet` in the tables folder. Named here,
# apart from their columns (tables.SCHEMAS, which checks it has these), so that the Snakefile
# lists them without importing pyarrow and rdflib at every start.
TABLES = (
    "models", "lineage_edges", "model_entities", "failures",
    *(f"entities_{kind}" for kind in (
        "datasets", "articles", "base_models", "tasks", "licenses", "languages", "keywords"
    )),
)  # fmt: skip
