"""Enrich identified entities from their authoritative sources, one module per kind.

Each function takes an identify stage's mapping `{model_id: [entity ids]}` and returns one entity
record per distinct id (sorted by id), listing the models that reference it. An entity that cannot
be resolved is kept with `enriched: False` and a `reason`; one failure never sinks the others.
"""

from .articles import enrich_articles
from .base_models import enrich_base_models
from .datasets import enrich_datasets
from .keywords import enrich_keywords
from .languages import enrich_languages
from .licenses import enrich_licenses
from .tasks import enrich_tasks

__all__ = [
    "enrich_articles",
    "enrich_base_models",
    "enrich_datasets",
    "enrich_keywords",
    "enrich_languages",
    "enrich_licenses",
    "enrich_tasks",
]
