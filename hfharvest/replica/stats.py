"""What the replica counts: requests by endpoint, status and model, faults, rate-limit windows."""

from __future__ import annotations

import json
import math
import time

from .messages import Request, Response

ENDPOINTS = ("list_models", "model_info", "dataset_info", "tasks", "resolve_head", "resolve_get")
ENDPOINTS += ("croissant", "arxiv_query", "list_datasets", "dataset_tree")


class Stats:
    """Counters and rate-limit windows of a ReplicaHub (mixed into it)."""

    def stats(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = empty_stats()

    def _take_from_bucket(self, bucket: str | None) -> tuple[bool, dict[str, str]]:
        """Count a request against a fixed-window bucket, as the Hub's `api`/`resolvers` limits."""
        limit = {"api": self.api_rate_limit, "resolvers": self.resolve_rate_limit}.get(bucket)
        if limit is None:
            return True, {}
        with self._lock:
            now = time.monotonic()
            window = self._windows.setdefault(bucket, [now, 0])
            if now - window[0] >= self.rate_window:
                window[:] = [now, 0]
            allowed = window[1] < limit
            window[1] += allowed
            reset_in = math.ceil(window[0] + self.rate_window - now)
            remaining = limit - window[1]
        window_seconds = math.ceil(self.rate_window)
        headers = {
            "RateLimit": f'"{bucket}";r={remaining};t={reset_in}',
            "RateLimit-Policy": f'"fixed window";"{bucket}";q={limit};w={window_seconds}',
        }
        if not allowed:
            headers["Retry-After"] = str(reset_in)
        return allowed, headers

    def _count(self, request: Request, endpoint: str, response: Response, rate_limited: bool):
        with self._lock:
            stats = self._stats
            stats["total"] += 1
            stats["by_endpoint"][endpoint] = stats["by_endpoint"].get(endpoint, 0) + 1
            status = str(response.status)
            stats["by_status"][status] = stats["by_status"].get(status, 0) + 1
            stats["rate_limited"] += rate_limited
            stats["with_token"] += bool(request.headers.get("Authorization"))
            tally = {"model_info": "model_info_gets", "resolve_get": "readme_gets"}.get(endpoint)
            if tally and response.model_id and response.status == 200:
                counts = stats[tally]
                counts[response.model_id] = counts.get(response.model_id, 0) + 1


def empty_stats() -> dict:
    return {
        "total": 0,
        "by_endpoint": dict.fromkeys(ENDPOINTS, 0),
        "by_status": {},
        "rate_limited": 0,
        "with_token": 0,  # requests that carried an Authorization header
        "readme_gets": {},
        "model_info_gets": {},
        "faults_injected": {},
    }
