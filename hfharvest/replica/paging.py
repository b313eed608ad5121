"""The model and dataset listings: filters, sorting, and pages linked by `Link: rel="next"` as the
Hub does."""

from __future__ import annotations

import json
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

from .messages import Request, Response, error_response, first, json_response
from .routes import expand_conflict
from .snapshot import Repo

# What a record lacking the sort key sorts as (trendingScore: nobody trends on the replica).
SORT_DEFAULTS = dict.fromkeys(("lastModified", "createdAt"), "")
SORT_DEFAULTS |= dict.fromkeys(("downloads", "likes", "trendingScore"), 0)
_LISTINGS_KEPT = 8
_FILTERS = {"search", "author", "pipeline_tag", "filter"}


class Paging:
    """The listing route of a ReplicaHub (mixed into it)."""

    # -- API routes ----------------------------------------------------------------------------

    def _list_models(self, request: Request) -> Response:
        return self._list_repos(request, self.catalogue.models)

    def _list_datasets(self, request: Request) -> Response:
        return self._list_repos(request, self.catalogue.datasets)

    def _list_repos(self, request: Request, repos) -> Response:
        query = request.query
        try:
            limit = int(first(query, "limit") or self.page_size)
            offset = int(first(query, "cursor") or 0)
        except ValueError:
            return error_response(400, "limit and cursor must be integers")
        sort = first(query, "sort")
        if sort is not None and sort not in SORT_DEFAULTS:
            return error_response(400, f"Invalid sort: {sort}")
        if error := expand_conflict(query):
            return error
        matches = self._listing(query, repos)
        size = max(1, min(limit, self.page_size))
        next_offset = offset + size
        if self.faults.get("stuck_cursor") and offset:  # a cursor that moves, pages that don't
            self._count_fault("stuck_cursor")
            offset = 0
        page = matches[offset : offset + size]
        if self.faults.get("endless_pages") and matches:  # past the end, the listing wraps round
            self._count_fault("endless_pages")
            page = [matches[(offset + i) % len(matches)] for i in range(size)]
        entries = [self._project(repo, query, listing=True) for repo in page]
        response = json_response(200, entries)
        if (deep := self.faults.get("deep_entry")) and deep["index"] < len(entries):
            self._count_fault("deep_entry")
            response.body = _with_deep_entry(entries, deep["index"], deep["depth"])
        if next_offset < len(matches) or self.faults.get("endless_pages"):
            next_page = self._next_page_url(request, next_offset)
            if self.faults.get("link_loop"):  # back at this very page, as the client asked it
                self._count_fault("link_loop")
                next_page = self._next_page_url(request, None)
            response.headers["Link"] = f'<{next_page}>; rel="next"'
        return response

    def _listing(self, query: dict, repos) -> Sequence[Repo]:
        """Matching repos in answer order, kept for the next pages of the same query."""
        params = sorted((k, tuple(v)) for k, v in query.items() if k not in ("cursor", "limit"))
        kind = "models" if repos is self.catalogue.models else "datasets"
        key = (self._changes, kind, *params)  # a change reorders listings: start afresh
        with self._lock:
            matches = self._listings.get(key)
        sort = first(query, "sort")
        descending = first(query, "direction") != "1"
        if matches is None and hasattr(repos, "listing") and not _FILTERS & set(query):
            matches = repos.listing(sort, descending)  # a scaled hub: sorted without records
        if matches is None:
            matches = [repo for repo in repos.values() if _matches(repo, query)]
            if sort:
                default = SORT_DEFAULTS[sort]
                matches.sort(key=lambda repo: repo.get(sort, default), reverse=descending)
            with self._lock:
                while len(self._listings) >= _LISTINGS_KEPT:
                    del self._listings[next(iter(self._listings))]
                self._listings[key] = matches
        return matches

    def _next_page_url(self, request: Request, cursor: int | None) -> str:
        """The page at `cursor`; None: the request's own URL, byte for byte."""
        # huggingface_hub requests the Link target as is, so it must be absolute.
        host = request.headers.get("Host") or urlsplit(self.url).netloc
        if cursor is None:
            return f"http://{host}{request.path}?{request.raw_query}"
        pairs = [(k, v) for k, values in request.query.items() if k != "cursor" for v in values]
        return f"http://{host}{request.path}?{urlencode([*pairs, ('cursor', cursor)])}"


def _matches(repo: Repo, query: dict) -> bool:
    search = first(query, "search")
    if search and search.lower() not in repo.id.lower():
        return False
    for name in ("author", "pipeline_tag"):
        wanted = first(query, name)
        if wanted and repo.get(name) != wanted:
            return False
    wanted = set(query.get("filter", ()))
    tags = repo.get("tags") if isinstance(repo.get("tags"), list) else []
    return not wanted or wanted <= {tag for tag in tags if isinstance(tag, str)}


def _with_deep_entry(entries: list[dict], index: int, depth: int) -> bytes:
    """The page with entry `index`'s cardData nested `depth` lists deep (written by hand:
    json.dumps itself recurses, and fails at such depths)."""
    parts = [json.dumps(entry, ensure_ascii=False, separators=(",", ":")) for entry in entries]
    deep = {key: value for key, value in entries[index].items() if key != "cardData"}
    nested = "[" * depth + "]" * depth
    parts[index] = json.dumps(deep, separators=(",", ":"))[:-1] + f',"cardData":{nested}}}'
    return ("[" + ",".join(parts) + "]").encode()
