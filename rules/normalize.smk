# FAIR4ML linked data, Parquet tables and the catalogue database: <data_root>/2_normalized/.
from hfharvest.normalize import TABLES

# What the stage reads: the models, every entity map, the relations, where datasets were
# stated, the models' own identifiers (Hub URL, repository DOI) and every enrich output.
NORMALIZE_INPUTS = {
    "models": rules.add_ancestor_models.output.models,
    "identified": [run_file(f"identified/{kind}.json") for kind in ENTITY_KINDS],
    "relations": rules.identify.output.base_model_relations,
    "dataset_sources": rules.identify.output.dataset_sources,
    "identifiers": rules.identify.output.identifiers,
    "entities": [enrich.output.entities for enrich in ENRICH_RULES],
}
STAGE_FILES = {
    "extract_latest": rules.extract_latest.output.models,
    "extract_from_file": rules.extract_from_file.output.models,
    "merge_models": rules.merge_models.output.models,
    "add_ancestor_models": rules.add_ancestor_models.output.models,
}


rule normalize_fair4ml:
    input:
        **NORMALIZE_INPUTS,
    output:
        models=normalized("fair4ml_models.jsonl.gz"),
        datasets=normalized("fair4ml_datasets.jsonl.gz"),
        triples=normalized("fair4ml.nt.gz"),
        stats=normalized("fair4ml_stats.json"),
    log:
        log_file("normalize_fair4ml"),
    benchmark:
        benchmark_file("normalize_fair4ml")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=120,
    params:
        max_text_chars=config["normalize"]["max_text_chars"],
    script:
        "../scripts/normalize_fair4ml.py"


rule normalize_tables:
    input:
        **NORMALIZE_INPUTS,
        **STAGE_FILES,
    output:
        tables=[normalized(f"tables/{name}.parquet") for name in TABLES],
        counts=normalized("tables_counts.json"),
    log:
        log_file("normalize_tables"),
    benchmark:
        benchmark_file("normalize_tables")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=60,
    params:
        run_id=config["run_id"],
        stages=list(STAGE_FILES),
    script:
        "../scripts/normalize_tables.py"


rule build_catalogue:
    input:
        tables=rules.normalize_tables.output.tables,
    output:
        database=normalized("catalogue.duckdb"),
        counts=normalized("catalogue_counts.json"),
    log:
        log_file("build_catalogue"),
    benchmark:
        benchmark_file("build_catalogue")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=30,
    script:
        "../scripts/build_catalogue.py"


rule load_postgres:
    input:
        tables=rules.normalize_tables.output.tables,
    output:
        receipt=normalized("postgres_load.json"),
    log:
        log_file("load_postgres"),
    benchmark:
        benchmark_file("load_postgres")
    conda:
        "../environment.yml"
    resources:
        mem_mb=1024,
        runtime=60,
    params:
        run_id=config["run_id"],
    script:
        "../scripts/load_postgres.py"
