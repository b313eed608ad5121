"""Tasks of a model: `pipeline_tag`, `cardData.pipeline_tag`, and tags that are Hub task ids.

Task ids are the keys of the Hub's task table (data/pipelines.json, @huggingface/tasks), without
its `other` placeholder, and the Hub's legacy task ids in LEGACY_TASKS: former pipeline tags
that the table now keeps as a subtask of a current task, and that the Hub still serves as
`pipeline_tag` and tags (`text2text-generation` on flan-t5 and t5-small). Other subtask types
(`sentiment-analysis`, ...) are not tasks here: they are free-form on models and stay keywords.
The Hub sets the record's own `pipeline_tag` and knows newer tasks than our copy of the table,
so it counts even when the table lacks it (the enrich stage then reports it); the card's
`pipeline_tag` and plain tags must be task ids.
"""

from __future__ import annotations

import functools
import json
import re
from importlib.resources import files

from ._fields import card_values, tags

_PLACEHOLDER = "other"
# Former Hub pipeline tags -> the task whose subtask the table now lists them as. Both were
# top-level tasks of @huggingface/tasks; the Hub still tags models with them.
LEGACY_TASKS = {"text2text-generation": "text-generation", "conversational": "text-generation"}
_TASK_ID_SHAPE = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


def identify_tasks(record: dict) -> list[str]:
    values = tags(record) + card_values(record, "pipeline_tag")
    found = {value for value in values if value in task_ids() or value in LEGACY_TASKS}
    pipeline_tag = record.get("pipeline_tag") if isinstance(record, dict) else None
    if isinstance(pipeline_tag, str) and _is_task_id_shaped(pipeline_tag.strip()):
        found.add(pipeline_tag.strip())
    return sorted(found)


def _is_task_id_shaped(value: str) -> bool:
    shaped = len(value) <= 100 and _TASK_ID_SHAPE.fullmatch(value) is not None
    return shaped and value != _PLACEHOLDER


@functools.cache
def task_ids() -> frozenset[str]:
    """The Hub's task ids (keys of data/pipelines.json), without the `other` placeholder."""
    table = json.loads(files("hfharvest").joinpath("data/pipelines.json").read_bytes())
    return frozenset(table) - {_PLACEHOLDER}
