"""A local HTTP replica of the Hugging Face Hub API that the real huggingface_hub client can use.

Routes, error headers, redirects, paging and rate-limit headers follow what huggingface_hub reads
(hf_raise_for_status, paginate, get_hf_file_metadata). Control routes live under /_replica/.
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
    ):
        self.catalogue = load_snapshot(snapshot_dir, scale=scale, seed=seed)
        self.latency_ms, self.page_size, self.rate_window = latency_ms, page_size, rate_window
        self.api_rate_limit, self.resolve_rate_limit = api_rate_limit, resolve_rate_limit
        self.disabled_ids = set(disabled_ids)
        self.faults: dict = {}  # fault switches, read by _injected_fault()
        self.url: str | None = None
        self._lock = threading.Lock()
        self._stats = _empty_stats()
        self._windows: dict[str, list[float | int]] = {}  # bucket -> [window start, requests]
        self._listings: dict[tuple, list[Repo]] = {}  # recent listings, for their next pages
        self._changes = 0
        self._server: _Server | None = None

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
        with self._lock:
            for name, value in knobs.items():
                setattr(self, name, set(value) if name == "disabled_ids" else value)
            if {"api_rate_limit", "resolve_rate_limit", "rate_window"} & set(knobs):
                self._windows.clear()  # new limits start a new window
        values = {name: getattr(self, name) for name in KNOBS}
        return {**values, "disabled_ids": sorted(self.disabled_ids)}

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
            response = self._injected_fault(request, endpoint) or answer(request)
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

    def _injected_fault(self, request: Request, endpoint: str) -> Response | None:
        """The one place where fault switches (self.faults) will turn answers into failures."""
        return None

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
        "readme_gets": {},
        "model_info_gets": {},
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
    return set(query.get("filter", ())) <= set(repo.get("tags") or ())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
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
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_HEAD = do_POST = do_GET

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
