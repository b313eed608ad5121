"""A local replica of the Hugging Face Hub API that serves recorded Hub data to tests."""

from .server import ReplicaHub
from .snapshot import DEFAULT_SNAPSHOT, load_snapshot

__all__ = ["DEFAULT_SNAPSHOT", "ReplicaHub", "load_snapshot"]
