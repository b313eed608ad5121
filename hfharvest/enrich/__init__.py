"""Enrich identified entities from their authoritative sources, one module per kind.

Each function takes an identify stage's mapping `{model_id: [entity ids]}` and returns one entity
record per distinct id (sorted by id), listing the models that reference it. An entity that cannot
be resolved is kept with `enriched: False` and a `reason`; one failure never sinks the others.
"""

from importlib import import_module

__all__ = [
    "enrich_articles",
    "enrich_base_models",
    "enrich_datasets",
    "enrich_keywords",
    "enrich_languages",
    "enrich_licenses",
    "enrich_tasks",
]


def __getattr__(name: str):
    """`from hfharvest.enrich import enrich_x` imports module x only: a job that enriches
    licences never loads the Hub client the datasets enricher needs."""
    if name in __all__:
        return getattr(import_module(f".{name.removeprefix('enrich_')}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
