"""The normalize stage: a run folder -> FAIR4ML JSON-LD, N-Triples, Parquet tables, a database."""
