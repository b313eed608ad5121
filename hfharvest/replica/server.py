"""A local HTTP replica of the Hugging Face Hub API that the real huggingface_hub client can use.

Routes, error headers, redirects, paging and rate-limit headers follow what huggingface_hub reads
(hf_raise_for_status, paginate, get_hf_file_metadata). Control routes live under /_replica/.

Fault switches (`faults=`, `configure(faults=...)`, POST /_replica/config, `--fault-*` flags) turn
answers into the failures a real Hub and the network between produce; see FAULTS_HELP.
"""

from __future__ import annotations

import json
import logging
import random
import socket
import struct
import threading
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .bulk import DUMP_ID, MISSING_SHARE, ROWS_PER_SHARD, STALE_SHARE, BulkDump
from .faults import Faults, checked_faults
from .messages import Request, Response, error_response, json_response, not_found
from .paging import Paging
from .routes import Routes
from .snapshot import DEFAULT_SNAPSHOT, Repo, iso_timestamp, load_snapshot
from .stats import Stats, empty_stats
from .synthetic import Chained

logger = logging.getLogger(__name__)

# Settable at run time through configure() or POST /_replica/config.
KNOBS = ("latency_ms", "page_size", "api_rate_limit", "resolve_rate_limit", "rate_window")
KNOBS += ("disabled_ids", "faults")


class ReplicaHub(Routes, Paging, Faults, Stats):
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
        dump_rows_per_shard: int = ROWS_PER_SHARD,
        dump_stale_share: float = STALE_SHARE,
        dump_missing_share: float = MISSING_SHARE,
        disabled_ids=(),
        faults: dict | None = None,
    ):
        self.catalogue = load_snapshot(snapshot_dir, scale=scale, seed=seed)
        # The Hub's bulk dump of model cards, built from these records (bulk.py).
        self.dump = BulkDump(self.catalogue.models, seed, dump_rows_per_shard,
                             dump_stale_share, dump_missing_share)  # fmt: skip
        datasets = self.catalogue.datasets
        datasets = datasets.real if isinstance(datasets, Chained) else datasets
        datasets[DUMP_ID] = Repo(DUMP_ID, self.dump.record(), None)
        self.latency_ms, self.page_size, self.rate_window = latency_ms, page_size, rate_window
        self.api_rate_limit, self.resolve_rate_limit = api_rate_limit, resolve_rate_limit
        self.disabled_ids = set(disabled_ids)
        self.faults: dict = {}  # fault switches, read by _injected_fault()
        self.url: str | None = None
        self._lock = threading.Lock()
        self._fault_requests: dict[str, int] = {}  # request path -> requests seen, for faults
        self._burst_requests = 0  # requests the 429 bursts target, seen so far
        self._stats = empty_stats()
        self._windows: dict[str, list[float | int]] = {}  # bucket -> [window start, requests]
        self._listings: dict[tuple, list[Repo]] = {}  # recent listings, for their next pages
        self._changes = 0
        self._server: _Server | None = None
        if faults:
            self.configure(faults=faults)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0,
              listener: socket.socket | None = None) -> str:  # fmt: skip
        """Serve on host:port, or on `listener`, a socket already listening (the parent's: see
        workflow.ReplicaProcess); returns the URL."""
        if self._server is not None:
            raise RuntimeError("the replica hub is already running")
        self._server = _Server((host, port), self, listener)
        # A short poll: stop() waits up to one poll for serve_forever to notice (0.5 s by default);
        # at 10 ms a workflow's wait for its replica's stop is 5 ms on average, for 100 cheap
        # wake-ups a second.
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.01},
                         name="replica-hub", daemon=True).start()  # fmt: skip
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

    def configure(self, **knobs) -> dict:
        """Change knobs at run time; returns all knob values."""
        unknown = set(knobs) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown replica knobs: {sorted(unknown)}")
        if "faults" in knobs:
            knobs["faults"] = checked_faults(knobs["faults"])
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
            # Positions, not a list of every id: a scaled hub makes ids on demand (same picks).
            at = models.id_at if hasattr(models, "id_at") else list(models).__getitem__
            count = round(len(models) * fraction)
            ids = [
                at(position) for position in random.Random(seed).sample(range(len(models)), count)
            ]
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
        return not_found(request)


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

    def __init__(self, address: tuple[str, int], hub: ReplicaHub,
                 listener: socket.socket | None = None):  # fmt: skip
        super().__init__(address, _Handler, bind_and_activate=listener is None)
        if listener is not None:
            self.socket.close()
            self.socket, self.server_address = listener, listener.getsockname()
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
