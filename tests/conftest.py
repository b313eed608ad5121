"""Shared fixtures: the real snapshot records and a replica hub over real HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub

REPO = Path(__file__).resolve().parents[1]
SNAPSHOT_MODELS = DEFAULT_SNAPSHOT / "api" / "models"


def snapshot_record(model_id: str) -> dict:
    """A real recorded /api/models/{id} body, read straight from the snapshot files."""
    return json.loads((SNAPSHOT_MODELS / f"{model_id.replace('/', '__')}.json").read_text())


def all_snapshot_records() -> list[dict]:
    return [json.loads(path.read_text()) for path in sorted(SNAPSHOT_MODELS.glob("*.json"))]


@pytest.fixture
def replica():
    """A fresh replica hub per test, so request counts belong to that test alone."""
    with ReplicaHub(page_size=20) as hub:
        yield hub


@pytest.fixture(scope="module")
def shared_replica():
    with ReplicaHub(page_size=20) as hub:
        yield hub
