"""Fault injection: the failures a real Hub, a hostile one and the network between produce.

The fault plan (`faults=`, `configure(faults=...)`, POST /_replica/config, `--fault-*` flags) is
checked by `checked_faults`; `Faults._injected_fault` is the one place where it turns an answer
into a failure (see FAULTS_HELP).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import math
import time
import zlib
from urllib.parse import unquote

from .messages import JSON_TYPE, TEXT_TYPE, Request, Response, error_response
from .routes import DISABLED_MESSAGE, GATED_MESSAGE

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
                                  # ("dense": true: of empty objects, `{"padding": [{},{},…]}`)
  # the hostile hub (rate faults too; body faults hit the JSON routes and arXiv)
  "html": 1,                      # 200 text/html on every route, as a wrong endpoint answers
  "unauthorized": 1,              # 401 "Invalid credentials in Authorization header" everywhere
  "absurd_ratelimit": 1,          # {"seconds": 100000000}: `RateLimit: ...;r=0;t=<seconds>`
  "absurd_retry_after": 1,        # {"seconds": 100000000}: 429 with `Retry-After: <seconds>`
  "trickle": 1,                   # {"bytes_per_s": 1}: the normal answer, that slowly
  "gzip_bomb": 1,                 # {"bytes": n}: ~n/1000 gzip bytes inflating to n (2 GiB)
  "slow_redirects": 1,            # {"seconds": 1}: then a 307 to the same URL, one hop on: endless
  "headers": {"set": {name: value}},  # the normal answer with these headers (ETag, Xet, Link)
  # listing pages
  "deep_entry": {"index": 0, "depth": 1000},  # that entry of each page nests its cardData
  "link_loop": true,              # each page's `Link: rel="next"` points back at itself
  "stuck_cursor": true,           # next links move on, but every page is the first again
  "endless_pages": true,          # every page links a next one; past the end the listing wraps
  "429": {"every": 10, "burst": 3, "retry_after": 1},  # requests i with i % every < burst
  # arXiv feeds (the arxiv_query route)
  "arxiv_empty": true,            # a well-formed feed with no entry, whatever was asked
  "arxiv_version_digits": 25,     # each entry's version that many digits long (v999...)
  # per-id faults, on every endpoint that names the id
  "not_found": [ids], "gated": [ids], "disabled": [ids],
  "redirects": {"old/id": "new/id" or "http://other-host:port"},   # 307
  "readmes": {"id": "text" | {"base64": "..."} | {"fill": "x", "bytes": n}},  # README bodies
  "fields": {"id": {"field": value}},  # that model's or dataset's record (by id, in listings
                                       # too) with these fields set: odd values a card's YAML or
                                       # a bug upstream can give (a lone surrogate is sent as the
                                       # Hub's JSON.stringify sends it, escaped: "\\ud800")
}"""
RATE_FAULTS = ("5xx", "slow", "reset", "truncated_json", "invalid_json", "huge_body")
RATE_FAULTS += ("html", "unauthorized", "absurd_ratelimit", "absurd_retry_after", "trickle")
RATE_FAULTS += ("gzip_bomb", "slow_redirects", "headers")  # appended: earlier kinds keep
# their decisions for a given seed
ID_FAULTS = ("not_found", "gated", "disabled")
PAGE_FAULTS = ("deep_entry", "link_loop", "stuck_cursor", "endless_pages")  # see paging.py
ARXIV_FAULTS = ("arxiv_empty", "arxiv_version_digits")  # see routes.py
FAULT_KEYS = {"seed", "endpoints", "ids", "429", "redirects", "readmes", *RATE_FAULTS, *ID_FAULTS}
FAULT_KEYS |= {*PAGE_FAULTS, *ARXIV_FAULTS, "fields"}
JSON_ENDPOINTS = {"list_models", "model_info", "dataset_info", "tasks", "croissant"}
BODY_FAULTS = {"truncated_json", "invalid_json", "huge_body", "gzip_bomb"}
BODY_ENDPOINTS = {"huge_body": JSON_ENDPOINTS | {"arxiv_query"}}
BODY_ENDPOINTS["gzip_bomb"] = BODY_ENDPOINTS["huge_body"]
_RATE_OPTIONS = {"rate", "endpoints", "ids", "times", "statuses", "seconds", "bytes", "chunked"}
_RATE_OPTIONS |= {"bytes_per_s", "dense", "set"}
_DEEP_OPTIONS = {"index", "depth"}
ABSURD_S = 100_000_000  # three years
HTML_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Welcome</title></head>"
    b"<body><h1>It works!</h1><p>This is not the Hub.</p></body></html>\n"
)
_BURST_OPTIONS = {"every", "burst", "retry_after", "endpoints", "ids"}


class Faults:
    """The fault switches of a ReplicaHub (mixed into it): `self.faults` is the plan."""

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
            if kind in BODY_FAULTS and endpoint not in BODY_ENDPOINTS.get(kind, JSON_ENDPOINTS):
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
            headers = {**TEXT_TYPE, "ETag": f'"{hashlib.sha1(body).hexdigest()}"'}
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
            return Response(200, body, {**JSON_TYPE})
        if kind == "huge_body":
            size = int(spec.get("bytes", 256 * 1024**2))
            length = None if spec.get("chunked") else size
            chunks = _huge_json(size, bool(spec.get("dense")))
            return Response(200, b"", {**JSON_TYPE}, chunks=chunks, length=length)
        if kind in ("html", "unauthorized", "absurd_retry_after", "gzip_bomb"):
            return _hostile(kind, spec, request)
        if kind == "slow_redirects":  # each hop a new URL (`hop=n`): the rate decides afresh
            time.sleep(spec.get("seconds", 1.0))
            pairs = [part for part in request.raw_query.split("&") if part]
            hop = sum(part.startswith("hop=") for part in pairs) + 1
            location = f"{request.path}?{'&'.join([*pairs, f'hop={hop}'])}"
            return Response(307, b"", {"Location": location, **TEXT_TYPE})
        response = answer(request)
        if kind == "absurd_ratelimit":  # the answer itself is fine: the budget is not
            bucket = "resolvers" if "/resolve/" in request.path else "api"
            seconds = spec.get("seconds", ABSURD_S)
            response.headers["RateLimit"] = f'"{bucket}";r=0;t={seconds}'
            return response
        if kind == "headers":
            response.headers.update(spec.get("set", {}))
            return response
        if kind == "trickle":
            rate = float(spec.get("bytes_per_s", 1))
            if response.chunks is not None:  # a file streamed from disk (the bulk dump)
                response.chunks = (part for chunk in response.chunks
                                   for part in _trickled(chunk, rate))  # fmt: skip
                return response
            body, response.body = response.body, b""
            response.chunks = _trickled(body, rate)
            response.length = len(body)
            return response
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


def checked_faults(faults) -> dict:
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
    if (deep := plan.get("deep_entry")) is not None:
        deep = dict(deep) if isinstance(deep, dict) else {}
        if set(deep) - _DEEP_OPTIONS:
            raise ValueError(
                f"faults.deep_entry: unknown options {sorted(set(deep) - _DEEP_OPTIONS)}"
            )
        plan["deep_entry"] = {
            "index": int(deep.get("index", 0)),
            "depth": int(deep.get("depth", 1000)),
        }
    for name in ("link_loop", "stuck_cursor", "endless_pages", "arxiv_empty"):
        if name in plan:
            plan[name] = bool(plan[name])
    if "arxiv_version_digits" in plan:
        digits = plan["arxiv_version_digits"]
        if isinstance(digits, bool) or not isinstance(digits, int) or digits < 1:
            raise ValueError("faults.arxiv_version_digits must be an integer >= 1")
    for kind in ID_FAULTS:
        if kind in plan:
            plan[kind] = sorted(set(plan[kind]))
    for name in ("redirects", "readmes", "fields"):
        if not isinstance(plan.get(name, {}), dict):
            raise ValueError(f"faults.{name} must be a mapping of model id to value")
    if not all(isinstance(fields, dict) for fields in plan.get("fields", {}).values()):
        raise ValueError("faults.fields must map each id to a mapping of field to value")
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
    return Response(307, body, {"Location": location, **TEXT_TYPE})


def _burst_429(endpoint: str, retry_after) -> Response:
    bucket = "resolvers" if endpoint.startswith("resolve_") else "api"
    seconds = max(0, math.ceil(float(retry_after)))
    return error_response(
        429,
        f"Too many requests: '{bucket}' rate limit reached.",
        **{"Retry-After": str(seconds), "RateLimit": f'"{bucket}";r=0;t={seconds}'},
    )


def _huge_json(size: int, dense: bool = False):
    """A JSON object of `size` bytes, made as it is sent: one long string, or (`dense`) a list of
    empty objects, the most Python objects a byte of JSON makes (~25 bytes parsed a byte)."""
    head, tail = (b'{"padding": [{}', b"]}") if dense else (b'{"padding": "', b'"}')
    yield head
    left = max(0, size - len(head) - len(tail))
    block = b",{}" * (1024 * 1024 // 3) if dense else b"x" * (1024 * 1024)
    while left > 0:
        step = min(left, len(block))
        yield block[:step] if not dense else block[: step - step % 3] + b" " * (step % 3)
        left -= len(block)
    yield tail


def _hostile(kind: str, spec: dict, request: Request) -> Response:
    """The answers of a hostile or wrong endpoint, in place of the route's own."""
    if kind == "html":
        return Response(200, HTML_PAGE, {"Content-Type": "text/html; charset=utf-8"})
    if kind == "unauthorized":  # what the Hub answers a revoked or mistyped token
        return error_response(401, "Invalid credentials in Authorization header")
    if kind == "absurd_retry_after":
        seconds = str(spec.get("seconds", ABSURD_S))
        return error_response(429, "Too many requests", **{"Retry-After": seconds})
    # gzip_bomb
    chunks, length = _gzip_bomb(int(spec.get("bytes", 2 * 1024**3)))
    headers = {**JSON_TYPE, "Content-Encoding": "gzip"}
    return Response(200, b"", headers, chunks=chunks, length=length)


def _trickled(body: bytes, bytes_per_s: float):
    """`body` at `bytes_per_s`: each read a client makes returns in time, the answer never does."""
    step = max(1, int(bytes_per_s / 10))
    for start in range(0, len(body), step):
        time.sleep(step / bytes_per_s)
        yield body[start : start + step]


_BOMB_BLOCK = 1024 * 1024


@functools.cache
def _bomb_parts() -> tuple[bytes, bytes, bytes]:
    """(gzip header and JSON head, one 1 MiB block of `x`, the end) as deflate segments.

    Each segment ends with a full flush, which resets the compressor: the block's segment is
    the same every time, so a body inflating to gigabytes is that one ~1 kB segment repeated.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)  # raw deflate
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"  # gzip, no name, no mtime
    head = header + compressor.compress(b'{"padding": "') + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(b"x" * _BOMB_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(b"x" * _BOMB_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    assert block == again, "a full flush must make the block's segment repeatable"
    # The trailer's CRC-32 is not computed (it would cost seconds per answer): a client that
    # inflated the whole body would see a CRC error at the very end, and none should get there.
    end = compressor.compress(b'"}') + compressor.flush() + b"\x00" * 4
    return head, block, end


def _gzip_bomb(size: int):
    """(chunks, Content-Length) of a gzip body that inflates to about `size` bytes."""
    head, block, end = _bomb_parts()
    blocks = max(1, size // _BOMB_BLOCK)
    trailer = end + (blocks * _BOMB_BLOCK % 2**32).to_bytes(4, "little")

    def chunks():
        yield head
        for _ in range(blocks):
            yield block
        yield trailer

    return chunks(), len(head) + blocks * len(block) + len(trailer)
