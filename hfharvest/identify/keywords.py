"""Keywords of a model: its tags (the Hub's and the card's `tags:`) that no other kind claims.

Claimed, so not keywords: `dataset:`, `arxiv:`, `doi:`, `base_model:` and `license:` tags; tags
read as one of the model's languages; task ids; tags equal to one of the model's dataset or base
model ids (older repos carry `mozilla-foundation/common_voice_6_0` as a plain tag).
Hub system tags (SYSTEM_TAGS, SYSTEM_PREFIXES, `*_compatible`) say where the Hub serves or
lists a model, not what it is: dropped. Library and framework tags (`pytorch`, `safetensors`,
`diffusers:StableDiffusionPipeline`), quantisation and content tags describe the model: kept,
as given (case and all).
"""

from __future__ import annotations

from ._fields import tags
from .base_models import identify_base_models
from .datasets import identify_datasets
from .languages import language_tags
from .tasks import identify_tasks, task_ids

CLAIMED_PREFIXES = ("dataset:", "arxiv:", "doi:", "base_model:", "license:")
SYSTEM_PREFIXES = ("region:", "deploy:", "template:", "inference:")
SYSTEM_TAGS = frozenset(
    {
        "has_space",  # a Space uses the model
        "text-generation-inference",  # served by TGI
        "text-embeddings-inference",  # served by TEI
        "eval-results",  # the card has evaluation results
        "model-index",  # the card has model-index metadata
    }
)


def identify_keywords(record: dict) -> list[str]:
    claimed = _claimed_by_other_kinds(record)
    return sorted(
        {tag for tag in tags(record) if tag not in claimed and not _is_claimed_or_system(tag)}
    )


def _claimed_by_other_kinds(record: dict) -> set[str]:
    claimed = language_tags(record) | set(identify_tasks(record)) | task_ids()
    return claimed | set(identify_datasets(record)) | set(identify_base_models(record))


def _is_claimed_or_system(tag: str) -> bool:
    return (
        tag.startswith(CLAIMED_PREFIXES + SYSTEM_PREFIXES)
        or tag in SYSTEM_TAGS
        or tag.endswith("_compatible")
    )
