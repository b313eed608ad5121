"""Tasks: the Hub's task taxonomy (GET /api/tasks) and the pipelines table (modality, subtasks)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .. import errors
from ..entities import entity
from ..hub import HubClient
from ..identify.tasks import LEGACY_TASKS
from .common import models_by_entity, unresolved

SOURCE = "hub_tasks"
_PACKAGE = Path(__file__).resolve().parents[1]
# The bundled pipelines table (npm @huggingface/tasks); hfharvest/data/ once it is copied there.
PIPELINES_PATHS = (
    _PACKAGE / "data" / "pipelines.json",
    _PACKAGE / "replica" / "hub_snapshot" / "tasks" / "pipelines.json",
)


def load_pipelines(paths: Iterable[Path] = PIPELINES_PATHS) -> dict[str, dict]:
    """The pipelines table `{task id: {name, modality, subtasks?}}`, from the first path found."""
    for path in paths:
        if Path(path).is_file():
            return json.loads(Path(path).read_bytes())
    raise FileNotFoundError(f"no pipelines table at any of {[str(p) for p in paths]}")


def fetch_hub_tasks(client: HubClient) -> dict[str, dict]:
    """GET {endpoint}/api/tasks: the Hub's task taxonomy keyed by task id (retried, capped)."""
    body = client.get_json(f"{client.endpoint}/api/tasks", "api/tasks")
    if not isinstance(body, dict):
        raise errors.Malformed("api/tasks", f"expected a JSON object, got {type(body).__name__}")
    return body


def enrich_tasks(
    mapping: Mapping[str, Iterable[str]] | Iterable[tuple],
    client: HubClient,
    *,
    pipelines: Mapping[str, dict] | None = None,
) -> Iterator[dict]:
    """One entity per task id, from /api/tasks (label, summary, libraries) and the pipelines table.

    A task known to either source is enriched (`sources` says which); a legacy task id the Hub
    still serves (`text2text-generation`) is enriched from the task it now belongs to
    (`resolved_to`, its label that of its subtask entry); an unknown task is kept with
    `enriched: False`. If /api/tasks cannot be had, the pipelines table alone is used and
    `hub_tasks_error` says why.
    """
    pipelines = load_pipelines() if pipelines is None else pipelines
    grouped = models_by_entity(mapping)
    hub_tasks: dict[str, dict] = {}
    hub_error = None
    if grouped:
        try:
            hub_tasks = fetch_hub_tasks(client)
        except errors.HarvestError as err:
            hub_error = {"reason": err.reason, "message": err.message}
    return (
        _task(task_id, models, hub_tasks, pipelines, hub_error)
        for task_id, models in grouped.items()
    )


def _task(task_id, models, hub_tasks: Mapping, pipelines: Mapping, hub_error) -> dict:
    extra = {"hub_tasks_error": hub_error} if hub_error else {}
    hub, pipeline = hub_tasks.get(task_id), pipelines.get(task_id)
    if hub is None and pipeline is None and (current := LEGACY_TASKS.get(task_id)):
        hub, pipeline = hub_tasks.get(current), pipelines.get(current)
        extra |= {"resolved_to": current, **_legacy_label(task_id, pipeline)}
    if not isinstance(hub, dict) and not isinstance(pipeline, dict):
        return unresolved(
            "tasks",
            task_id,
            models,
            source=SOURCE,
            reason="unknown_task",
            message="not in the Hub's task list nor in the pipelines table",
            **extra,
        )
    hub = hub if isinstance(hub, dict) else {}
    pipeline = pipeline if isinstance(pipeline, dict) else {}
    subtasks = [
        {"id": sub.get("type"), "name": sub.get("name")}
        for sub in pipeline.get("subtasks") or []
        if isinstance(sub, dict)
    ]
    sources = [name for name, part in (("api_tasks", hub), ("pipelines", pipeline)) if part]
    fields = {
        "label": _text(hub.get("label")) or _text(pipeline.get("name")),
        "name": _text(pipeline.get("name")),
        "modality": _text(pipeline.get("modality")),
        "subtasks": subtasks,
        "summary": _text(hub.get("summary")),
        "libraries": _texts(hub.get("libraries")),
        "is_placeholder": hub.get("isPlaceholder")
        if isinstance(hub.get("isPlaceholder"), bool)
        else None,
        "sources": sources,
    }
    return entity("tasks", task_id, source=SOURCE, **(fields | extra), models=models)


def _text(value: object) -> str | None:
    """A field the Hub should give as text; another type (a number, a list) is dropped."""
    return value if isinstance(value, str) and value else None


def _texts(value: object) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _legacy_label(task_id: str, pipeline: dict | None) -> dict:
    """The legacy id's own name, from its entry among the current task's subtasks."""
    subtasks = (pipeline.get("subtasks") if isinstance(pipeline, dict) else None) or []
    names = [
        sub.get("name") for sub in subtasks if isinstance(sub, dict) and sub.get("type") == task_id
    ]
    return {"label": names[0], "name": names[0]} if names and names[0] else {}
