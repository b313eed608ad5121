"""The replica's requests and answers: what a route receives and what the server sends."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from email.message import Message

JSON_TYPE = {"Content-Type": "application/json; charset=utf-8"}
ATOM_TYPE = {"Content-Type": "application/atom+xml; charset=utf-8"}
TEXT_TYPE = {"Content-Type": "text/plain; charset=utf-8"}


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
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    try:
        body = text.encode()
    except UnicodeEncodeError:  # a lone surrogate (a fault): escaped, as JSON.stringify does
        body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, {**JSON_TYPE}, model_id)


def error_response(status: int, message: str, code: str | None = None, **headers) -> Response:
    response = json_response(status, {"error": message})
    response.headers["X-Error-Message"] = message
    if code:
        response.headers["X-Error-Code"] = code
    response.headers.update(headers)
    return response


def not_found(request: Request) -> Response:
    return error_response(404, f"Not found: {request.method} {request.path}")


def first(query: dict, name: str) -> str | None:
    return query[name][0] if query.get(name) else None


def flag(query: dict, name: str) -> bool:
    return first(query, name) in ("true", "True", "1", "")
