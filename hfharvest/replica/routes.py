"""The Hub routes (model and dataset records, Croissant, files under /resolve/, tasks) and the
arXiv query route the replica serves alongside them."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

from .arxiv import ARXIV_DEFAULT_MAX_RESULTS, ARXIV_ID, arxiv_error, arxiv_feed
from .bulk import DUMP_ID
from .messages import (
    ATOM_TYPE,
    JSON_TYPE,
    TEXT_TYPE,
    Request,
    Response,
    error_response,
    first,
    flag,
    json_response,
    not_found,
)
from .snapshot import Repo

LIST_FIELDS = ("_id", "id", "likes", "private", "downloads", "tags", "pipeline_tag")
LIST_FIELDS += ("library_name", "createdAt", "modelId")
GATED_MESSAGE = (
    "Access to {kind} {id} is restricted. You must have access to it and be authenticated to"
    " access it. Please log in."
)
DISABLED_MESSAGE = "Access to this resource is disabled."


class Routes:
    """The routes of a ReplicaHub (mixed into it), each a Request -> Response."""

    def _route(self, request: Request):
        path, method = request.path, request.method
        if method not in ("GET", "HEAD"):
            return "other", None, not_found
        if path == "/api/models":
            return "list_models", "api", self._list_models
        if path.startswith("/api/models/"):
            return "model_info", "api", lambda r: self._repo_info(r, self.catalogue.models)
        if path == "/api/datasets":
            return "list_datasets", "api", self._list_datasets
        if path.startswith(f"/api/datasets/{DUMP_ID}/tree/"):
            return "dataset_tree", "api", self._dump_tree
        if path.startswith("/api/datasets/") and path.endswith("/croissant"):
            return "croissant", "api", self._croissant
        if path.startswith("/api/datasets/"):
            return "dataset_info", "api", lambda r: self._repo_info(r, self.catalogue.datasets)
        if path == "/api/query":  # the arXiv API (export.arxiv.org/api/query), served alongside
            return "arxiv_query", None, self._arxiv_query
        if path == "/api/tasks":
            return "tasks", "api", lambda _: Response(200, self.catalogue.tasks, {**JSON_TYPE})
        if path.startswith("/api/"):
            return "other", "api", not_found
        if "/resolve/" in path:
            return f"resolve_{method.lower()}", "resolvers", self._resolve
        return "other", None, not_found

    def _repo_info(self, request: Request, repos: dict[str, Repo]) -> Response:
        prefix = "/api/models/" if repos is self.catalogue.models else "/api/datasets/"
        parts = [unquote(part) for part in request.path[len(prefix) :].split("/")]
        revision = None
        if len(parts) in (3, 4) and parts[-2] == "revision":
            parts, revision = parts[:-2], parts[-1]
        if len(parts) > 2:
            return not_found(request)
        found = self._find(repos, "/".join(parts), request, prefix)
        if isinstance(found, Response):
            return found
        if error := _revision_error(found, revision) or expand_conflict(request.query):
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
        return Response(200, body, {**JSON_TYPE})

    def _arxiv_query(self, request: Request) -> Response:
        """The arXiv API's id_list query, as an Atom feed in arXiv's format.

        Like arXiv: a well-formed id it does not know gets no entry (and is not counted in
        totalResults); a malformed id fails the whole request with HTTP 400 and an error entry.
        """
        id_list = [part.strip() for part in (first(request.query, "id_list") or "").split(",")]
        id_list = [part for part in id_list if part]
        try:
            start = int(first(request.query, "start") or 0)
            size = int(first(request.query, "max_results") or ARXIV_DEFAULT_MAX_RESULTS)
        except ValueError:
            return arxiv_error("incorrect_paging", "start and max_results must be integers")
        bad = next((item for item in id_list if not ARXIV_ID.fullmatch(item)), None)
        if bad is not None:
            return arxiv_error(f"incorrect_id_format_for_{bad}", f"incorrect id format for {bad}")
        matches = [record for item in id_list if (record := self._arxiv_record(item))]
        if self.faults.get("arxiv_empty"):  # a well-formed feed that names nothing asked
            self._count_fault("arxiv_empty")
            matches = []
        if digits := self.faults.get("arxiv_version_digits"):  # v999...: a string, no int
            self._count_fault("arxiv_version_digits")
            matches = [{**record, "version": "9" * digits} for record in matches]
        page = matches[max(0, start) : max(0, start) + max(0, size)]
        body = arxiv_feed(request.raw_query, id_list, start, size, len(matches), page)
        return Response(200, body.encode(), {**ATOM_TYPE})

    def _arxiv_record(self, requested: str) -> dict | None:
        """The stored record for `1810.04805` or `1810.04805v2` (only the stored version).

        A record whose sources name no version answers only the unversioned id.
        """
        base, version = re.fullmatch(r"(.+?)(?:v(\d+))?", requested).groups()
        record = self.catalogue.arxiv.get(base)
        # Compared as text: a version of thousands of digits is past Python's int-string limit.
        if record is None or (version and version.lstrip("0") != str(record.get("version"))):
            return None
        return record

    def _project(self, repo: Repo, query: dict, listing: bool = False) -> dict:
        """The record as the Hub shapes it for this query (expand, full, cardData, config), with
        the fields the `fields` fault switch sets for this repo (those the query shows)."""
        shaped = self._shaped(repo, query, listing)
        if odd := self.faults.get("fields", {}).get(repo.id):
            self._count_fault("fields")
            asked = {key for value in query.get("expand", ()) for key in value.split(",")}
            shaped |= {k: v for k, v in odd.items() if k in shaped or k in asked or not asked}
        return shaped

    def _shaped(self, repo: Repo, query: dict, listing: bool) -> dict:
        if "expand" in query:
            keys = [key for value in query["expand"] for key in value.split(",") if key]
            recorded = self.catalogue.expand_only.get(repo.id, {})
            extra = {key: recorded[key] for key in keys if key in recorded}
            found = {key: repo.get(key) for key in keys if repo.has(key)}
            return {"_id": repo.get("_id"), "id": repo.id, **extra, **found}
        if not listing or flag(query, "full"):
            return repo.to_json()
        keys = [*LIST_FIELDS, *(["cardData"] if flag(query, "cardData") else [])]
        keys += ["config"] if flag(query, "config") else []
        return {key: repo.get(key) for key in keys if repo.has(key)} | {"trendingScore": 0}

    def _resolve(self, request: Request) -> Response:
        parts = [unquote(part) for part in request.path.strip("/").split("/")]
        kind, repos, prefix = "model", self.catalogue.models, "/"
        if parts[0] == "datasets":
            kind, repos, prefix, parts = "dataset", self.catalogue.datasets, "/datasets/", parts[1:]
        at = 1 if len(parts) > 1 and parts[1] == "resolve" else 2
        if len(parts) < at + 3 or parts[at] != "resolve":
            return not_found(request)
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
        if kind == "dataset" and found.id == DUMP_ID and filename in self.dump.files:
            path, sha256 = self.dump.file(filename)
            size = path.stat().st_size
            headers = {"Content-Type": "application/octet-stream", "ETag": f'"{sha256}"', **commit}
            headers["X-Linked-Size"], headers["X-Linked-Etag"] = str(size), f'"{sha256}"'
            body = self.dump.chunks(path) if request.method == "GET" else iter(())
            return Response(200, headers=headers, chunks=body, length=size)
        text = found.readme_text() if filename == "README.md" else None
        if text is None:
            return error_response(404, "Entry not found", "EntryNotFound", **commit)
        body = text.encode()
        headers = {**TEXT_TYPE, **commit}
        headers["ETag"] = f'"{hashlib.sha1(body).hexdigest()}"'
        return Response(200, body, headers, found.id if kind == "model" else None)

    def _dump_tree(self, request: Request) -> Response:
        """GET /api/datasets/{dump}/tree/{rev}[/{folder}]: the dump's files (list_repo_tree)."""
        parts = [unquote(part) for part in request.path.split("/tree/", 1)[1].split("/")]
        revision, folder = parts[0], "/".join(part for part in parts[1:] if part)
        found = self._find(self.catalogue.datasets, DUMP_ID, request, "/api/datasets/")
        if isinstance(found, Response):
            return found
        if error := _revision_error(found, revision):
            return error
        if folder not in ("", "data"):
            return error_response(404, f"Entry not found: {folder}", "EntryNotFound")
        if not folder and not flag(request.query, "recursive"):
            oid = hashlib.sha1(" ".join(self.dump.files).encode()).hexdigest()
            return json_response(200, [{"type": "directory", "oid": oid, "path": "data"}])
        entries = []
        for name in self.dump.files:
            path, sha256 = self.dump.file(name)
            size = path.stat().st_size
            lfs = {"oid": sha256, "size": size, "pointerSize": 134}
            oid = hashlib.sha1(sha256.encode()).hexdigest()
            entries.append({"type": "file", "oid": oid, "size": size, "path": name, "lfs": lfs})
        return json_response(200, entries)

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
            return Response(307, body, {"Location": location, **TEXT_TYPE})
        if repo_id in self.disabled_ids:
            return error_response(403, DISABLED_MESSAGE)
        return repo


def expand_conflict(query: dict) -> Response | None:
    if "expand" in query and (flag(query, "full") or flag(query, "cardData")):
        return error_response(400, '"expand" cannot be combined with "full" or "cardData"')
    return None


def _revision_error(repo: Repo, revision: str | None) -> Response | None:
    if revision in (None, "main", repo.get("sha")):
        return None
    return error_response(404, f"Invalid rev id: {revision}", "RevisionNotFound")
