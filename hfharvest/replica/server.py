"""A local HTTP replica of the Hugging Face Hub API that the real huggingface_hub client can use.

Routes, error headers, redirects, paging and rate-limit headers follow what huggingface_hub reads
(hf_raise_for_status, paginate, get_hf_file_metadata). Control routes live under /_replica/.

Fault switches (`faults=`, `configure(faults=...)`, POST /_replica/config, `--fault-*` flags) turn
answers into the failures a real Hub and the network between produce; see FAULTS_HELP.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import random
import re
import socket
import struct
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlencode, urlsplit
from xml.sax.saxutils import escape, quoteattr

from .snapshot import DEFAULT_SNAPSHOT, Repo, iso_timestamp, load_snapshot

logger = logging.getLogger(__name__)

# Settable at run time through configure() or POST /_replica/config.
KNOBS = ("latency_ms", "page_size", "api_rate_limit", "resolve_rate_limit", "rate_window")
KNOBS += ("disabled_ids", "faults")
ENDPOINTS = ("list_models", "model_info", "dataset_info", "tasks", "resolve_head", "resolve_get")
ENDPOINTS += ("croissant", "arxiv_query")
LIST_FIELDS = ("_id", "id", "likes", "private", "downloads", "tags", "pipeline_tag")
LIST_FIELDS += ("library_name", "createdAt", "modelId")
# What a record lacking the sort key sorts as (trendingScore: nobody trends on the replica).
SORT_DEFAULTS = dict.fromkeys(("lastModified", "createdAt"), "")
SORT_DEFAULTS |= dict.fromkeys(("downloads", "likes", "trendingScore"), 0)
GATED_MESSAGE = (
    "Access to {kind} {id} is restricted. You must have access to it and be authenticated to"
    " access it. Please log in."
)
DISABLED_MESSAGE = "Access to this resource is disabled."
_LISTINGS_KEPT = 8
_JSON_TYPE = {"Content-Type": "application/json; charset=utf-8"}
_ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}
# arXiv identifiers: new style `1810.04805` and old style `hep-th/9901001`, optionally versioned.
ARXIV_ID = re.compile(r"(?:\d{4}\.\d{4,5}|[a-z]+(?:-[a-z]+)?(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?")
ARXIV_DEFAULT_MAX_RESULTS = 10  # the arXiv API's default page size
_TEXT_TYPE = {"Content-Type": "text/plain; charset=utf-8"}

FAULTS_HELP = """\
faults = {
  "seed": 0,                      # decisions hash (seed, kind, request path+query, nth request)
  "endpoints": [...], "ids": [...],   # default targets of the rate faults below (default: all)
  # rate faults: a fraction, or {"rate": f, "endpoints": [...], "ids": [...], "times": n}
  # (`times`: only the first n requests of a path; later retries of it get through)
  "5xx": 0.1,                     # {"statuses": [500, 502, 503]} picks among these
  "slow": 0.1,                    # {"seconds": 5}: answer only after that long (past a timeout)
  "reset": 0.1,                   # headers and half the body, then a TCP reset
  "truncated_json": 0.1,          # a JSON body cut in half (Content-Length of the cut body)
  "invalid_json": 0.1,            # HTTP 200 with a body that is not JSON
  "huge_body": 0.1,               # {"bytes": n, "chunked": false}: a 200 JSON body of n bytes
  "429": {"every": 10, "burst": 3, "retry_after": 1},  # requests i with i % every < burst
  # per-id faults, on every endpoint that names the id
  "not_found": [ids], "gated": [ids], "disabled": [ids],
  "redirects": {"old/id": "new/id" or "http://other-host:port"},   # 307
  "readmes": {"id": "text" | {"base64": "..."} | {"fill": "x", "bytes": n}},  # README bodies
}"""
RATE_FAULTS = ("5xx", "slow", "reset", "truncated_json", "invalid_json", "huge_body")
ID_FAULTS = ("not_found", "gated", "disabled")
FAULT_KEYS = {"seed", "endpoints", "ids", "429", "redirects", "readmes", *RATE_FAULTS, *ID_FAULTS}
JSON_ENDPOINTS = {"list_models", "model_info", "dataset_info", "tasks", "croissant"}
_RATE_OPTIONS = {"rate", "endpoints", "ids", "times", "statuses", "seconds", "bytes", "chunked"}
_BURST_OPTIONS = {"every", "burst", "retry_after", "endpoints", "ids"}


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    raw_query: str
    headers: Message
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    model_id: str | None = None  # model whose info or README this answer served, for the stats
    cut_at: int | None = None  # send this many body bytes, then reset the connection
    chunks: object = None  # an iterable of bytes sent instead of `body` (huge bodies)
    length: int | None = None  # Content-Length of `chunks`; None: chunked transfer encoding


def json_response(status: int, payload, model_id: str | None = None) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(status, body, {**_JSON_TYPE}, model_id)


def error_response(status: int, message: str, code: str | None = None, **headers) -> Response:
    response = json_response(status, {"error": message})
    response.headers["X-Error-Message"] = message
    if code:
        response.headers["X-Error-Code"] = code
    response.headers.update(headers)
    return response


class ReplicaHub:
    """The replica's state and logic; start() serves it over HTTP in a background thread."""

    def __init__(
        self,
        snapshot_dir: Path = DEFAULT_SNAPSHOT,
        *,
        latency_ms: float = 0,
        page_size: int = 100,
        api_rate_limit: int | None = None,
        resolve_rate_limit: int | None = None,
        rate_window: float = 300,
        scale: int = 0,
        seed: int = 0,
        disabled_ids=(),
        faults: dict | None = None,
    ):
        self.catalogue = load_snapshot(snapshot_dir, scale=scale, seed=seed)
        self.latency_ms, self.page_size, self.rate_window = latency_ms, page_size, rate_window
        self.api_rate_limit, self.resolve_rate_limit = api_rate_limit, resolve_rate_limit
        self.disabled_ids = set(disabled_ids)
        self.faults: dict = {}  # fault switches, read by _injected_fault()
        self.url: str | None = None
        self._lock = threading.Lock()
        self._fault_requests: dict[str, int] = {}  # request path -> requests seen, for faults
        self._burst_requests = 0  # requests the 429 bursts target, seen so far
        self._stats = _empty_stats()
        self._windows: dict[str, list[float | int]] = {}  # bucket -> [window start, requests]
        self._listings: dict[tuple, list[Repo]] = {}  # recent listings, for their next pages
        self._changes = 0
        self._server: _Server | None = None
        if faults:
            self.configure(faults=faults)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        if self._server is not None:
            raise RuntimeError("the replica hub is already running")
        self._server = _Server((host, port), self)
        threading.Thread(target=self._server.serve_forever, name="replica-hub", daemon=True).start()
        bound_host, bound_port = self._server.server_address[:2]
        self.url = f"http://{bound_host}:{bound_port}"
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.close_connections()  # else kept-alive clients still reach a stopped hub
        self._server.server_close()
        self._server = None

    def __enter__(self) -> ReplicaHub:
        if self._server is None:
            self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- control -------------------------------------------------------------------------------

    def stats(self) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._stats))

    def reset_stats(self) -> None:
        with self._lock:
            self._stats = _empty_stats()

    def configure(self, **knobs) -> dict:
        """Change knobs at run time; returns all knob values."""
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown replica knobs: {sorted(unknown)}")
        if "faults" in knobs:
            knobs["faults"] = _checked_faults(knobs["faults"])
        with self._lock:
            if "faults" in knobs:  # a new fault plan: decisions start afresh
                self._fault_requests.clear()
                self._burst_requests = 0
            for name, value in knobs.items():
                setattr(self, name, set(value) if name == "disabled_ids" else value)
            if {"api_rate_limit", "resolve_rate_limit", "rate_window"} & set(knobs):
                self._windows.clear()  # new limits start a new window
        values = {name: getattr(self, name) for name in KNOBS}
        faults = dict(self.faults)
        if "readmes" in faults:  # bytes: shown by size
            faults["readmes"] = {
                key: f"{len(body)} bytes" for key, body in faults["readmes"].items()
            }
        return {**values, "disabled_ids": sorted(self.disabled_ids), "faults": faults}

    def change_models(self, ids=None, fraction: float | None = None, seed: int = 0) -> list[str]:
        """Give models a new commit (sha, lastModified, README); pick `ids` or a random fraction."""
        models = self.catalogue.models
        if ids is None:
            if fraction is None:
                raise ValueError("change_models needs ids or a fraction")
            ids = random.Random(seed).sample(list(models), round(len(models) * fraction))
        missing = [model_id for model_id in ids if model_id not in models]
        if missing:
            raise KeyError(f"unknown model ids: {missing}")
        when = iso_timestamp(time.time())
        with self._lock:
            for model_id in ids:
                models[model_id].change(when)
            self._changes += 1
            self._listings.clear()
        return list(ids)

    # -- answering -----------------------------------------------------------------------------

    def respond(self, request: Request) -> Response:
        if request.path.startswith("/_replica/"):
            return self._control(request)
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        endpoint, bucket, answer = self._route(request)
        allowed, limit_headers = self._take_from_bucket(bucket)
        if allowed:
            response = self._injected_fault(request, endpoint, answer) or answer(request)
        else:
            response = error_response(429, f"Too many requests: '{bucket}' rate limit reached.")
        response.headers.update(limit_headers)
        self._count(request, endpoint, response, rate_limited=not allowed)
        return response

    def _route(self, request: Request):
        path, method = request.path, request.method
        if method not in ("GET", "HEAD"):
            return "other", None, _not_found
        if path == "/api/models":
            return "list_models", "api", self._list_models
        if path.startswith("/api/models/"):
            return "model_info", "api", lambda r: self._repo_info(r, self.catalogue.models)
        if path.startswith("/api/datasets/") and path.endswith("/croissant"):
            return "croissant", "api", self._croissant
        if path.startswith("/api/datasets/"):
            return "dataset_info", "api", lambda r: self._repo_info(r, self.catalogue.datasets)
        if path == "/api/query":  # the arXiv API (export.arxiv.org/api/query), served alongside
            return "arxiv_query", None, self._arxiv_query
        if path == "/api/tasks":
            return "tasks", "api", lambda _: Response(200, self.catalogue.tasks, {**_JSON_TYPE})
        if path.startswith("/api/"):
            return "other", "api", _not_found
        if "/resolve/" in path:
            return f"resolve_{method.lower()}", "resolvers", self._resolve
        return "other", None, _not_found

    def _injected_fault(self, request: Request, endpoint: str, answer) -> Response | None:
        """The one place where fault switches (self.faults) turn answers into failures.

        Returns the answer to send instead of the normal one, or None for the normal one.
        Decisions are a hash of (seed, path and query, how many times that path was asked), so a
        path meets the same faults whatever the thread timing; 429 bursts excepted: they count
        every targeted request in arrival order, as a rate limit does.
        """
        faults = self.faults
        if not faults or endpoint == "other":
            return None
        target = _target_id(request.path, endpoint)
        if target is not None and (response := self._id_fault(request, endpoint, target)):
            return response
        if (burst := faults.get("429")) and self._targets(burst, endpoint, target):
            with self._lock:
                index, self._burst_requests = self._burst_requests, self._burst_requests + 1
            if index % burst["every"] < burst["burst"]:
                self._count_fault("429")
                return _burst_429(endpoint, burst.get("retry_after", 1))
        # Counted after the 429s, so that what a path meets does not depend on the bursts.
        key = f"{request.method} {request.path}?{request.raw_query}"
        with self._lock:
            nth = self._fault_requests[key] = self._fault_requests.get(key, 0) + 1
        roll, threshold = _roll(faults.get("seed", 0), "rate", key, nth), 0.0
        for kind in RATE_FAULTS:
            spec = faults.get(kind)
            if not spec or not self._targets(spec, endpoint, target):
                continue
            if kind in ("truncated_json", "invalid_json", "huge_body") and (
                endpoint not in JSON_ENDPOINTS
            ):
                continue
            if nth > spec.get("times", math.inf):
                continue
            threshold += spec["rate"]
            if roll < threshold:
                self._count_fault(kind)
                return self._rate_fault(kind, spec, request, answer, key, nth)
        return None

    def _targets(self, spec: dict, endpoint: str, target: str | None) -> bool:
        endpoints = spec.get("endpoints", self.faults.get("endpoints"))
        ids = spec.get("ids", self.faults.get("ids"))
        return (endpoints is None or endpoint in endpoints) and (ids is None or target in ids)

    def _id_fault(self, request: Request, endpoint: str, target: str) -> Response | None:
        faults = self.faults
        if (renamed := faults.get("redirects", {}).get(target)) is not None:
            self._count_fault("redirect")
            return _redirect(request, endpoint, target, renamed)
        if target in faults.get("not_found", ()):
            self._count_fault("not_found")
            return error_response(404, "Repository not found", "RepoNotFound")
        if target in faults.get("disabled", ()):
            self._count_fault("disabled")
            return error_response(403, DISABLED_MESSAGE)
        resolving = endpoint.startswith("resolve_")
        if resolving and target in faults.get("gated", ()):
            self._count_fault("gated")
            # The Hub: 401 without a token, 403 with one that was not granted access.
            status = 403 if request.headers.get("Authorization") else 401
            return error_response(
                status, GATED_MESSAGE.format(kind="model", id=target), "GatedRepo"
            )
        if (
            resolving
            and target in faults.get("readmes", {})
            and request.path.endswith("/README.md")
        ):
            self._count_fault("readme_body")
            body = _readme_body(faults["readmes"][target])
            repo = self.catalogue.models.get(target)
            headers = {**_TEXT_TYPE, "ETag": f'"{hashlib.sha1(body).hexdigest()}"'}
            if repo is not None:
                headers["X-Repo-Commit"] = repo.get("sha")
            return Response(200, body, headers, target)
        return None

    def _rate_fault(self, kind: str, spec: dict, request: Request, answer, key: str, nth: int):
        if kind == "5xx":
            statuses = spec.get("statuses", (500, 502, 503))
            status = statuses[
                int(_roll(self.faults.get("seed", 0), "status", key, nth) * len(statuses))
            ]
            return error_response(status, f"Injected server error {status}")
        if kind == "slow":
            time.sleep(spec.get("seconds", 5.0))
            response = answer(request)
            response.model_id = None  # too late: the client has given up; not counted as served
            return response
        if kind == "invalid_json":
            body = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
            return Response(200, body, {**_JSON_TYPE})
        if kind == "huge_body":
            size = int(spec.get("bytes", 256 * 1024**2))
            length = None if spec.get("chunked") else size
            return Response(200, b"", {**_JSON_TYPE}, chunks=_huge_json(size), length=length)
        response = answer(request)
        response.model_id = None  # a broken answer does not count as served
        if kind == "reset":
            response.cut_at = len(response.body) // 2
        elif response.status == 200:  # truncated_json
            response.body = response.body[: len(response.body) // 2]
        return response

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            injected = self._stats["faults_injected"]
            injected[kind] = injected.get(kind, 0) + 1

    def _control(self, request: Request) -> Response:
        route = (request.method, request.path)
        try:
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                raise ValueError("the request body must be a JSON object")
            if route == ("GET", "/_replica/stats"):
                return json_response(200, self.stats())
            if route == ("POST", "/_replica/reset"):
                self.reset_stats()
                return json_response(200, self.stats())
            if route == ("POST", "/_replica/change"):
                ids, fraction, seed = body.get("ids"), body.get("fraction"), body.get("seed", 0)
                return json_response(200, {"changed": self.change_models(ids, fraction, seed)})
            if route == ("POST", "/_replica/config"):
                return json_response(200, self.configure(**body))
        except KeyError as error:
            return error_response(404, error.args[0])
        except (TypeError, ValueError) as error:
            return error_response(400, str(error))
        return _not_found(request)

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

    # -- API routes ----------------------------------------------------------------------------

    def _list_models(self, request: Request) -> Response:
        query = request.query
        try:
            limit = int(_first(query, "limit") or self.page_size)
            offset = int(_first(query, "cursor") or 0)
        except ValueError:
            return error_response(400, "limit and cursor must be integers")
        sort = _first(query, "sort")
        if sort is not None and sort not in SORT_DEFAULTS:
            return error_response(400, f"Invalid sort: {sort}")
        if error := _expand_conflict(query):
            return error
        matches = self._listing(query)
        size = max(1, min(limit, self.page_size))
        page = matches[offset : offset + size]
        response = json_response(200, [self._project(repo, query, listing=True) for repo in page])
        if offset + size < len(matches):
            next_page = self._next_page_url(request, offset + size)
            response.headers["Link"] = f'<{next_page}>; rel="next"'
        return response

    def _listing(self, query: dict) -> list[Repo]:
        """Matching models in answer order, kept for the next pages of the same query."""
        params = sorted((k, tuple(v)) for k, v in query.items() if k not in ("cursor", "limit"))
        key = (self._changes, *params)  # a change reorders listings: start afresh
        with self._lock:
            matches = self._listings.get(key)
        if matches is None:
            matches = [repo for repo in self.catalogue.models.values() if _matches(repo, query)]
            if sort := _first(query, "sort"):
                descending = _first(query, "direction") != "1"
                default = SORT_DEFAULTS[sort]
                matches.sort(key=lambda repo: repo.get(sort, default), reverse=descending)
            with self._lock:
                while len(self._listings) >= _LISTINGS_KEPT:
                    del self._listings[next(iter(self._listings))]
                self._listings[key] = matches
        return matches

    def _next_page_url(self, request: Request, cursor: int) -> str:
        # huggingface_hub requests the Link target as is, so it must be absolute.
        pairs = [(k, v) for k, values in request.query.items() if k != "cursor" for v in values]
        host = request.headers.get("Host") or urlsplit(self.url).netloc
        return f"http://{host}{request.path}?{urlencode([*pairs, ('cursor', cursor)])}"

    def _repo_info(self, request: Request, repos: dict[str, Repo]) -> Response:
        prefix = "/api/models/" if repos is self.catalogue.models else "/api/datasets/"
        parts = [unquote(part) for part in request.path[len(prefix) :].split("/")]
        revision = None
        if len(parts) in (3, 4) and parts[-2] == "revision":
            parts, revision = parts[:-2], parts[-1]
        if len(parts) > 2:
            return _not_found(request)
        found = self._find(repos, "/".join(parts), request, prefix)
        if isinstance(found, Response):
            return found
        if error := _revision_error(found, revision) or _expand_conflict(request.query):
            return error
        model_id = found.id if repos is self.catalogue.models else None
        return json_response(200, self._project(found, request.query), model_id)

    def _croissant(self, request: Request) -> Response:
        """GET /api/datasets/{id}/croissant: recorded Croissant JSON-LD, else 404."""
        prefix, suffix = "/api/datasets/", "/croissant"
        dataset_id = unquote(request.path[len(prefix) : -len(suffix)])
        found = self._find(self.catalogue.datasets, dataset_id, request, prefix)
        if isinstance(found, Response):
            return found
        body = self.catalogue.croissant.get(found.id)
        if body is None:
            return error_response(404, f"No Croissant metadata recorded for dataset {found.id}")
        return Response(200, body, {**_JSON_TYPE})

    def _arxiv_query(self, request: Request) -> Response:
        """The arXiv API's id_list query, as an Atom feed in arXiv's format.

        Like arXiv: a well-formed id it does not know gets no entry (and is not counted in
        totalResults); a malformed id fails the whole request with HTTP 400 and an error entry.
        """
        id_list = [part.strip() for part in (_first(request.query, "id_list") or "").split(",")]
        id_list = [part for part in id_list if part]
        try:
            start = int(_first(request.query, "start") or 0)
            size = int(_first(request.query, "max_results") or ARXIV_DEFAULT_MAX_RESULTS)
        except ValueError:
            return _arxiv_error("incorrect_paging", "start and max_results must be integers")
        bad = next((item for item in id_list if not ARXIV_ID.fullmatch(item)), None)
        if bad is not None:
            return _arxiv_error(f"incorrect_id_format_for_{bad}", f"incorrect id format for {bad}")
        matches = [record for item in id_list if (record := self._arxiv_record(item))]
        page = matches[max(0, start) : max(0, start) + max(0, size)]
        body = _arxiv_feed(request.raw_query, id_list, start, size, len(matches), page)
        return Response(200, body.encode(), {**_ATOM_TYPE})

    def _arxiv_record(self, requested: str) -> dict | None:
        """The stored record for `1810.04805` or `1810.04805v2` (only the stored version)."""
        base, version = re.fullmatch(r"(.+?)(?:v(\d+))?", requested).groups()
        record = self.catalogue.arxiv.get(base)
        if record is None or (version and int(version) != int(record.get("version", 1))):
            return None
        return record

    def _project(self, repo: Repo, query: dict, listing: bool = False) -> dict:
        """The record as the Hub shapes it for this query (expand, full, cardData, config)."""
        if "expand" in query:
            keys = [key for value in query["expand"] for key in value.split(",") if key]
            recorded = self.catalogue.expand_only.get(repo.id, {})
            extra = {key: recorded[key] for key in keys if key in recorded}
            found = {key: repo.get(key) for key in keys if repo.has(key)}
            return {"_id": repo.get("_id"), "id": repo.id, **extra, **found}
        if not listing or _flag(query, "full"):
            return repo.to_json()
        keys = [*LIST_FIELDS, *(["cardData"] if _flag(query, "cardData") else [])]
        keys += ["config"] if _flag(query, "config") else []
        return {key: repo.get(key) for key in keys if repo.has(key)} | {"trendingScore": 0}

    def _resolve(self, request: Request) -> Response:
        parts = [unquote(part) for part in request.path.strip("/").split("/")]
        kind, repos, prefix = "model", self.catalogue.models, "/"
        if parts[0] == "datasets":
            kind, repos, prefix, parts = "dataset", self.catalogue.datasets, "/datasets/", parts[1:]
        at = 1 if len(parts) > 1 and parts[1] == "resolve" else 2
        if len(parts) < at + 3 or parts[at] != "resolve":
            return _not_found(request)
        repo_id, revision, filename = "/".join(parts[:at]), parts[at + 1], "/".join(parts[at + 2 :])
        found = self._find(repos, repo_id, request, prefix)
        if isinstance(found, Response):
            return found
        authorization = request.headers.get("Authorization", "")
        if found.get("gated") and not authorization.startswith("Bearer "):
            return error_response(401, GATED_MESSAGE.format(kind=kind, id=repo_id), "GatedRepo")
        if error := _revision_error(found, revision):
            return error
        commit = {"X-Repo-Commit": found.get("sha")}
        text = found.readme_text() if filename == "README.md" else None
        if text is None:
            return error_response(404, "Entry not found", "EntryNotFound", **commit)
        body = text.encode()
        headers = {**_TEXT_TYPE, **commit}
        headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
        return Response(200, body, headers, found.id if kind == "model" else None)

    def _find(self, repos: dict, repo_id: str, request: Request, prefix: str) -> Repo | Response:
        """The repo, or the redirect or error the Hub answers instead."""
        repo = repos.get(repo_id)
        redirects = self.catalogue.redirects if repos is self.catalogue.models else {}
        if repo is None:
            renamed = redirects.get(repo_id)
            if renamed is None:
                return error_response(404, "Repository not found", "RepoNotFound")
            location = prefix + renamed + request.path[len(prefix + repo_id) :]
            location += f"?{request.raw_query}" if request.raw_query else ""
            body = f"Temporary Redirect. Redirecting to {location}".encode()
            return Response(307, body, {"Location": location, **_TEXT_TYPE})
        if repo_id in self.disabled_ids:
            return error_response(403, DISABLED_MESSAGE)
        return repo


def _empty_stats() -> dict:
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


def _arxiv_feed(raw_query: str, id_list: list, start: int, size: int, total: int, page) -> str:
    """An Atom feed laid out as export.arxiv.org answers an id_list query (2026 format)."""
    ids = ",".join(id_list)
    query = f"search_query=&id_list={ids}&start={start}&max_results={size}"
    feed_id = base64.urlsafe_b64encode(hashlib.sha1(raw_query.encode()).digest()).decode()
    link = (
        f"https://arxiv.org/api/query?search_query=&start={start}&max_results={size}&id_list={ids}"
    )
    lines = [
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">',
        f"  <id>https://arxiv.org/api/{feed_id.rstrip('=')}</id>",
        f"  <title>arXiv Query: {escape(query)}</title>",
        f"  <updated>{_arxiv_now()}</updated>",
        f'  <link href={quoteattr(link)} type="application/atom+xml"/>',
        f"  <opensearch:itemsPerPage>{size}</opensearch:itemsPerPage>",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>",
    ]
    for record in page:
        lines += _arxiv_entry(record)
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


def _arxiv_entry(record: dict) -> list[str]:
    versioned = f"{record['id']}v{record.get('version', 1)}"
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{versioned}</id>",
        f"    <title>{escape(record['title'])}</title>",
        f"    <updated>{record['updated']}</updated>",
        f'    <link href="https://arxiv.org/abs/{versioned}" rel="alternate" type="text/html"/>',
        f'    <link href="https://arxiv.org/pdf/{versioned}" rel="related" type="application/pdf"'
        ' title="pdf"/>',
        f"    <summary>{escape(record['summary'])}</summary>",
    ]
    for category in record.get("categories") or [record["primary_category"]]:
        lines.append(
            f'    <category term={quoteattr(category)} scheme="http://arxiv.org/schemas/atom"/>'
        )
    lines.append(f"    <published>{record['published']}</published>")
    if record.get("comment"):
        lines.append(f"    <arxiv:comment>{escape(record['comment'])}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(record['primary_category'])}/>")
    if record.get("journal_ref"):
        lines.append(f"    <arxiv:journal_ref>{escape(record['journal_ref'])}</arxiv:journal_ref>")
    if record.get("doi"):
        lines.append(f"    <arxiv:doi>{escape(record['doi'])}</arxiv:doi>")
        doi_link = quoteattr(f"https://doi.org/{record['doi']}")
        lines.append(f'    <link href={doi_link} rel="related" title="doi"/>')
    for author in record.get("authors") or []:
        lines += ["    <author>", f"      <name>{escape(author)}</name>", "    </author>"]
    lines.append("  </entry>")
    return lines


def _arxiv_error(code: str, message: str) -> Response:
    """arXiv's answer to a bad query: HTTP 400 and a feed holding one `Error` entry."""
    now, url = _arxiv_now(), quoteattr(f"https://arxiv.org/api/errors#{code}")
    body = "\n".join([
        "<?xml version='1.0' encoding='UTF-8'?>",
        '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
        'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">',
        "  <id>https://arxiv.org/</id>",
        "  <title>arXiv Search Results</title>",
        f"  <updated>{now}</updated>",
        "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>",
        "  <opensearch:totalResults>1</opensearch:totalResults>",
        "  <opensearch:startIndex>0</opensearch:startIndex>",
        "  <entry>",
        f"    <id>{escape(url[1:-1])}</id>",
        "    <title>Error</title>",
        f"    <updated>{now}</updated>",
        f'    <link href={url} rel="alternate" type="text/html"/>',
        f"    <summary>{escape(message)}</summary>",
        "    <author>",
        "      <name>arXiv api core</name>",
        "    </author>",
        "  </entry>",
        "</feed>",
    ])  # fmt: skip
    return Response(400, (body + "\n").encode(), {**_ATOM_TYPE})


def _arxiv_now() -> str:
    return iso_timestamp(time.time()).split(".")[0] + "Z"


def _not_found(request: Request) -> Response:
    return error_response(404, f"Not found: {request.method} {request.path}")


def _first(query: dict, name: str) -> str | None:
    return query[name][0] if query.get(name) else None


def _flag(query: dict, name: str) -> bool:
    return _first(query, name) in ("true", "True", "1", "")


def _expand_conflict(query: dict) -> Response | None:
    if "expand" in query and (_flag(query, "full") or _flag(query, "cardData")):
        return error_response(400, '"expand" cannot be combined with "full" or "cardData"')
    return None


def _revision_error(repo: Repo, revision: str | None) -> Response | None:
    if revision in (None, "main", repo.get("sha")):
        return None
    return error_response(404, f"Invalid rev id: {revision}", "RevisionNotFound")


def _matches(repo: Repo, query: dict) -> bool:
    search = _first(query, "search")
    if search and search.lower() not in repo.id.lower():
        return False
    for name in ("author", "pipeline_tag"):
        wanted = _first(query, name)
        if wanted and repo.get(name) != wanted:
            return False
    wanted = set(query.get("filter", ()))
    tags = repo.get("tags") if isinstance(repo.get("tags"), list) else []
    return not wanted or wanted <= {tag for tag in tags if isinstance(tag, str)}


def _checked_faults(faults) -> dict:
    """The fault plan, checked and normalised (rates as {"rate": f}); ValueError names the key."""
    if faults is None:
        return {}
    if not isinstance(faults, dict):
        raise ValueError(f"faults must be a mapping, got {type(faults).__name__}")
    unknown = set(faults) - FAULT_KEYS
    if unknown:
        raise ValueError(f"unknown fault switches: {sorted(unknown)}; known: {sorted(FAULT_KEYS)}")
    plan = dict(faults)
    for kind in RATE_FAULTS:
        spec = plan.get(kind)
        if spec is None:
            continue
        spec = dict(spec) if isinstance(spec, dict) else {"rate": spec}
        if set(spec) - _RATE_OPTIONS:
            raise ValueError(f"faults.{kind}: unknown options {sorted(set(spec) - _RATE_OPTIONS)}")
        rate = spec.setdefault("rate", 1.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError(f"faults.{kind}.rate must be a number in [0, 1], got {rate!r}")
        plan[kind] = spec
    if (burst := plan.get("429")) is not None:
        burst = dict(burst) if isinstance(burst, dict) else {"every": burst}
        if set(burst) - _BURST_OPTIONS:
            raise ValueError(f"faults.429: unknown options {sorted(set(burst) - _BURST_OPTIONS)}")
        burst.setdefault("burst", 1)
        if not (isinstance(burst.get("every"), int) and burst["every"] >= 1):
            raise ValueError("faults.429.every must be an integer >= 1")
        plan["429"] = burst
    for kind in ID_FAULTS:
        if kind in plan:
            plan[kind] = sorted(set(plan[kind]))
    for name in ("redirects", "readmes"):
        if not isinstance(plan.get(name, {}), dict):
            raise ValueError(f"faults.{name} must be a mapping of model id to value")
    if "readmes" in plan:
        plan["readmes"] = {key: _readme_body(value) for key, value in plan["readmes"].items()}
    return plan


def _readme_body(value) -> bytes:
    """An injected README: text, {"base64": ...} for any bytes, or {"fill", "bytes"}."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, dict) and "base64" in value:
        return base64.b64decode(value["base64"])
    if isinstance(value, dict) and "bytes" in value:
        fill = str(value.get("fill", "x")).encode() or b"x"
        size = int(value["bytes"])
        return (fill * (size // len(fill) + 1))[:size]
    raise ValueError(f"faults.readmes: cannot make a README of {type(value).__name__}")


def _roll(seed, kind: str, key: str, nth: int) -> float:
    """A uniform number in [0, 1) fixed by its arguments: the same faults on every run."""
    digest = hashlib.sha256(f"{seed}|{kind}|{key}|{nth}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _target_id(path: str, endpoint: str) -> str | None:
    """The repo id a request is about (None for listings and other routes)."""
    if endpoint in ("model_info", "dataset_info", "croissant"):
        prefix = "/api/models/" if endpoint == "model_info" else "/api/datasets/"
        parts = [
            unquote(part) for part in path[len(prefix) :].removesuffix("/croissant").split("/")
        ]
        if len(parts) in (3, 4) and parts[-2] == "revision":
            parts = parts[:-2]
        return "/".join(parts)
    if endpoint.startswith("resolve_"):
        parts = [unquote(part) for part in path.strip("/").split("/")]
        parts = parts[1:] if parts[0] == "datasets" else parts
        at = 1 if len(parts) > 1 and parts[1] == "resolve" else 2
        return "/".join(parts[:at])
    return None


def _redirect(request: Request, endpoint: str, old: str, new: str) -> Response:
    """307 to a new id on this hub, or to the same path on another host (`http://...`)."""
    if new.startswith(("http://", "https://")):
        location = new.rstrip("/") + request.path
    else:
        prefix = request.path[: request.path.index(old)] if old in request.path else "/"
        location = prefix + new + request.path[len(prefix) + len(old) :]
    location += f"?{request.raw_query}" if request.raw_query else ""
    body = f"Temporary Redirect. Redirecting to {location}".encode()
    return Response(307, body, {"Location": location, **_TEXT_TYPE})


def _burst_429(endpoint: str, retry_after) -> Response:
    bucket = "resolvers" if endpoint.startswith("resolve_") else "api"
    seconds = max(0, math.ceil(float(retry_after)))
    return error_response(
        429,
        f"Too many requests: '{bucket}' rate limit reached.",
        **{"Retry-After": str(seconds), "RateLimit": f'"{bucket}";r=0;t={seconds}'},
    )


def _huge_json(size: int):
    """A JSON object of `size` bytes, made as it is sent."""
    head, tail = b'{"padding": "', b'"}'
    yield head
    left = max(0, size - len(head) - len(tail))
    block = b"x" * (1024 * 1024)
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)
    yield tail


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    # Headers and body go out in two writes: without this, Nagle's algorithm and delayed ACKs
    # hold the body back ~40 ms, and every answer looks that much slower than the Hub's.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        query = parse_qs(url.query, keep_blank_values=True)
        request = Request(self.command, url.path, query, url.query, self.headers)
        request.body = self.rfile.read(length) if length else b""
        try:
            response = self.server.hub.respond(request)
        except Exception:
            logger.exception("replica hub failed on %s %s", self.command, self.path)
            response = error_response(500, "Internal error in the replica hub")
        try:
            self._send(response)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout, a cap)
            self.close_connection = True

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        chunked = response.chunks is not None and response.length is None
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            length = len(response.body) if response.chunks is None else response.length
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.chunks is not None:
            for chunk in response.chunks:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        elif response.cut_at is not None:
            self.wfile.write(response.body[: response.cut_at])
            self._reset()
        else:
            self.wfile.write(response.body)

    def _reset(self) -> None:
        """Close with a TCP reset (SO_LINGER 0), as a dropped connection looks to a client."""
        self.close_connection = True
        with suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()

    do_HEAD = do_POST = do_GET

    def handle(self) -> None:
        with suppress(ConnectionResetError, BrokenPipeError):  # a client that went away
            super().handle()

    def log_message(self, format: str, *args) -> None:
        logger.debug("%s " + format, self.address_string(), *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], hub: ReplicaHub):
        super().__init__(address, _Handler)
        self.hub = hub
        self.connections: set[socket.socket] = set()

    def process_request(self, request, client_address) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        for connection in list(self.connections):
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
