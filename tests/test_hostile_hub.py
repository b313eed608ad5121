"""The hostile hub: every wait and every answer is bounded, and a failure says host and cause.

Each case goes through the real client (huggingface_hub's HTTP stack underneath) against the
replica hub with one of its hostile faults switched on; the side-request case uses a bare
HTTP listener instead, so that any request a library makes on its own is seen.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import ijson
import pytest
from conftest import REPO, snapshot_record

from hfharvest import answers, errors
from hfharvest.cache import EntityCache
from hfharvest.enrich.articles import enrich_articles, feed_error, parse_feed
from hfharvest.enrich.datasets import enrich_datasets, fetch_croissant
from hfharvest.enrich.tasks import enrich_tasks, fetch_hub_tasks
from hfharvest.hub import LISTING, HubClient, model_info_to_dict, process_rate_limiter
from hfharvest.identify.articles import identify_articles
from hfharvest.jsonio import artifact_writer, iter_items, iter_models, write_items
from hfharvest.replica import ReplicaHub
from hfharvest.replica.arxiv import arxiv_error, arxiv_feed
from hfharvest.stages.extract import Extractor, Harvest

GPT2 = "openai-community/gpt2"
TOKEN = "hf_DUMMYhostile7hub9token"
# Short bounds: a hostile answer costs milliseconds here, not the production minutes.
FAST = {"timeout": 2, "max_retries": 2, "backoff_s": 0.01, "max_wait_s": 5, "deadline_s": 5}


def fast_client(hub: ReplicaHub, **options) -> HubClient:
    return HubClient(hub.url, **{**FAST, **options})


def outcome(call):
    """The HarvestError a call raises (the test fails if it does not raise one)."""
    with pytest.raises(errors.HarvestError) as caught:
        call()
    return caught.value


@pytest.fixture
def hostile():
    """A replica whose faults each test sets; the process's rate budget for it is forgotten
    afterwards (it is keyed by host:port, which a later replica may get again)."""
    with ReplicaHub(page_size=20) as hub:
        yield hub
        process_rate_limiter().forget(hub.url)


# -- unreachable, wrong endpoint, refused token ------------------------------------------------


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_dead_endpoint_is_unreachable_with_host_cause_and_tries():
    url = f"http://127.0.0.1:{closed_port()}"
    client = HubClient(url, **FAST)

    err = outcome(lambda: client.model_info(GPT2))
    assert err.reason == "unreachable" and errors.is_systemic(err.reason)
    assert err.message == f"cannot reach {url}: connection refused after 3 tries"

    [stop] = list(client.iter_latest(5))
    assert (stop.item_id, stop.reason) == (LISTING, "unreachable")
    assert stop.message == (
        f"listing stopped after 0 of 5 models: cannot reach {url}: connection refused after 3 tries"
    )


def test_the_exception_text_is_the_full_message():
    client = HubClient(f"http://127.0.0.1:{closed_port()}", **FAST)
    err = outcome(lambda: client.model_info(GPT2))
    assert str(err) == f"{GPT2}: {err.message}" and err.message.endswith("after 3 tries")


def test_an_endpoint_answering_html_is_a_wrong_endpoint_on_every_route(hostile):
    hostile.configure(faults={"html": 1})
    client = fast_client(hostile)
    expected = f"{hostile.url} answered HTML, not JSON (text/html): wrong endpoint or path prefix?"
    for call in (
        lambda: client.model_info(GPT2),
        lambda: client.dataset_info("c4"),
        lambda: fetch_hub_tasks(client),
        lambda: fetch_croissant(client, "c4"),
    ):
        err = outcome(call)
        assert err.reason == "wrong_endpoint" and err.message.startswith(expected)
    readme = outcome(lambda: client.readme(GPT2, None))
    assert readme.reason == "wrong_endpoint" and "answered HTML, not a file" in readme.message
    [stop] = list(client.iter_latest(5))
    assert (stop.item_id, stop.reason) == (LISTING, "wrong_endpoint")
    assert expected in stop.message
    [paper] = enrich_articles({"m": ["arxiv:1810.04805"]}, f"{hostile.url}/api/query", delay_s=0)
    assert paper["reason"] == "wrong_endpoint" and "answered HTML" in paper["message"]


def test_401_everywhere_is_unauthorized_and_names_the_variable_not_the_token(hostile):
    hostile.configure(faults={"unauthorized": 1})
    client = fast_client(hostile, token=TOKEN, token_env="HF_TOKEN")
    expected = f"the Hub at {hostile.url} refused the token in HF_TOKEN (401)"
    for call in (lambda: client.model_info(GPT2), lambda: client.readme(GPT2, None),
                 lambda: fetch_hub_tasks(client), lambda: client.dataset_info("c4")):  # fmt: skip
        err = outcome(call)
        assert (err.reason, err.message) == ("unauthorized", expected)
    [stop] = list(client.iter_latest(5))
    assert (stop.reason, stop.message) == (
        "unauthorized",
        f"listing stopped after 0 of 5 models: {expected}",
    )
    assert hostile.stats()["total"] == 5  # a refused token is not retried
    assert hostile.stats()["with_token"] == 5

    anonymous = fast_client(hostile, token_env="HF_TOKEN")
    err = outcome(lambda: anonymous.model_info(GPT2))
    assert err.reason == "unauthorized"
    assert err.message == f"the Hub at {hostile.url} asks for a token (401) and HF_TOKEN is empty"


def test_a_gated_readme_is_still_gated_not_unauthorized(hostile):
    # The replica answers an anonymous README request of a gated repo 401 GatedRepo, as the Hub.
    err = outcome(lambda: fast_client(hostile).readme("meta-llama/Llama-3.1-8B-Instruct", None))
    assert err.reason == "gated"


def test_systemic_cause_is_the_one_endpoint_reason_that_explains_every_failure():
    refused = errors.Unauthorized("a/b", "the Hub at http://h refused the token in HF_TOKEN (401)")
    failures = [refused.as_failure(), errors.Unauthorized("c/d", refused.message).as_failure()]
    assert errors.systemic_cause(failures) == failures[0]
    assert errors.systemic_cause([*failures, errors.NotFound("e/f", "x").as_failure()]) is None
    assert errors.systemic_cause([errors.Transient("a/b", "HTTP 503").as_failure()]) is None
    assert errors.systemic_cause([]) is None
    assert {"unreachable", "unauthorized", "wrong_endpoint"} == errors.SYSTEMIC_REASONS


# -- waits -------------------------------------------------------------------------------------


def test_an_absurd_retry_after_fails_at_once_with_the_announced_wait(hostile):
    hostile.configure(faults={"absurd_retry_after": 1})
    limiter = process_rate_limiter()
    waited = limiter.waited_s
    err = outcome(lambda: fast_client(hostile).model_info(GPT2))
    assert err.reason == "rate_limited"
    assert err.message.startswith(
        "the Hub asked to wait 100000000 s (Retry-After), over the 5 s cap"
    )
    assert hostile.stats()["total"] == 1  # not retried, not waited for
    # The limiter learnt the same wait from the 429: later requests fail at once, never sleep.
    later = outcome(lambda: fast_client(hostile).model_info("gpt2"))
    assert later.reason == "rate_limited" and "100000000 s" in later.message
    assert hostile.stats()["total"] == 1 and limiter.waited_s == waited


def test_an_absurd_ratelimit_budget_never_puts_later_requests_to_sleep(hostile):
    hostile.configure(faults={"absurd_ratelimit": 1})
    limiter = process_rate_limiter()
    waited = limiter.waited_s
    client = fast_client(hostile)
    assert client.model_info(GPT2).id == GPT2  # the answer carrying the header is fine
    err = outcome(lambda: client.model_info("gpt2"))
    assert err.reason == "rate_limited"
    assert "wait 99999999 s" in err.message or "wait 100000000 s" in err.message
    assert "over the 5 s cap (hub.max_wait_s)" in err.message
    assert hostile.stats()["total"] == 1 and limiter.waited_s == waited


def test_a_trickled_body_fails_at_the_deadline(hostile):
    # gpt2's record is ~2 kB: at 100 bytes/s it would take 20 s; the deadline is 0.5 s.
    hostile.configure(faults={"trickle": {"bytes_per_s": 100}})
    client = fast_client(hostile, deadline_s=0.5, max_retries=0)
    for call in (lambda: client.model_info(GPT2), lambda: client.readme(GPT2, None)):
        err = outcome(call)
        assert err.reason == "transient"
        assert err.message.startswith(f"{hostile.url}: answer not complete within its deadline")


# -- answers -----------------------------------------------------------------------------------

# Runs in a fresh interpreter, so that its peak RSS is this work's alone; prints one JSON line
# per route: its outcome and the process's peak RSS (kB) before and after the route.
CHILD = r"""
import json, resource, sys
from hfharvest.enrich.articles import enrich_articles, feed_error, parse_feed
from hfharvest.enrich.datasets import enrich_datasets, fetch_croissant
from hfharvest.enrich.tasks import enrich_tasks, fetch_hub_tasks
from hfharvest.hub import HubClient

url = sys.argv[1]
client = HubClient(url, max_retries=0, timeout=5)  # the default caps and deadline
routes = {
    "list_models": lambda: list(client.iter_latest(5))[0],
    "model_info": lambda: client.model_info("openai-community/gpt2"),
    "tasks": lambda: fetch_hub_tasks(client),
    "dataset_info": lambda: client.dataset_info("c4"),
    "croissant": lambda: fetch_croissant(client, "c4"),
    "arxiv_query": lambda: next(enrich_articles({"m": ["arxiv:1810.04805"]},
                                                url + "/api/query", delay_s=0, retries=0)),
}
for name, call in routes.items():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        got = call()
        result = {"reason": got["reason"], "message": got["message"]} if isinstance(got, dict) \
            else {"reason": getattr(got, "reason", None), "message": getattr(got, "message", "")}
    except Exception as err:
        result = {"reason": getattr(err, "reason", type(err).__name__), "message": str(err)}
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"route": name, **result, "rss_kb": [before, after]}), flush=True)
"""
BODY_ROUTES = ["list_models", "model_info", "tasks", "dataset_info", "croissant", "arxiv_query"]


@pytest.mark.parametrize(
    "faults",
    [
        {"gzip_bomb": {"bytes": 4 * 1024**3}},  # 4 MB on the wire, 4 GiB inflated
        {"huge_body": {"bytes": 3 * 1024**3 // 2, "chunked": True}},  # 1.5 GiB, no length
    ],
    ids=["gzip_bomb", "chunked_giant"],
)
def test_bombs_and_giants_are_refused_on_every_json_route_and_arxiv(faults):
    with ReplicaHub(faults=faults) as hub:
        child = subprocess.run([sys.executable, "-c", CHILD, hub.url], capture_output=True,
                               text=True, timeout=120, cwd=REPO)  # fmt: skip
        injected = hub.stats()["faults_injected"]
    assert child.returncode == 0, child.stderr[-2000:]
    results = {row["route"]: row for row in map(json.loads, child.stdout.splitlines())}
    assert list(results) == BODY_ROUTES
    for route, row in results.items():
        assert row["reason"] == "malformed", (route, row)
        assert "cap (decoded): not read further" in row["message"], (route, row)
        assert hub.url in row["message"], (route, row)  # the host is named
    # The caps are 64 MiB (Hub API) and 16 MiB (arXiv): the whole run's peak RSS grows by less
    # than 200 MB, where reading one answer whole would take 1.5 to 4 GB.
    start, peak = results["list_models"]["rss_kb"][0], results["arxiv_query"]["rss_kb"][1]
    assert (peak - start) / 1024 < 200, f"peak RSS grew by {(peak - start) / 1024:.0f} MB"
    assert sum(injected.values()) == len(BODY_ROUTES)


def test_a_deep_entry_costs_that_entry_only(hostile):
    clean = [info.id for info in fast_client(hostile).list_latest(10)]
    hostile.configure(faults={"deep_entry": {"index": 3, "depth": 1000}})
    items = list(fast_client(hostile).iter_latest(10))

    failures = [item for item in items if isinstance(item, errors.HarvestError)]
    assert [(f.item_id, f.reason) for f in failures] == [(clean[3], "malformed")]
    assert "listing entry 4: nested 1001 levels deep (over 64)" in failures[0].message
    kept = [item.id for item in items if not isinstance(item, errors.HarvestError)]
    assert kept == clean[:3] + clean[4:]
    assert snapshot_record(kept[0])["id"] == kept[0]


def test_a_link_loop_stops_the_listing_with_the_distinct_count(hostile):
    hostile.configure(page_size=4, faults={"link_loop": True})
    harvest = Harvest.collect(Extractor(fast_client(hostile), threads=1).latest(10))

    assert len(harvest.models) == 4 == len({m["modelId"] for m in harvest.models})
    [stop] = [f for f in harvest.failures if f["model_id"] == LISTING]
    assert stop["reason"] == "malformed"
    assert stop["message"].startswith("listing stopped after 4 of 10 models: the next page")
    assert stop["message"].endswith("was already read: a paging loop")
    assert hostile.stats()["by_endpoint"]["list_models"] == 1  # the page is not read again


def test_pages_that_bring_nothing_new_stop_the_listing(hostile):
    hostile.configure(page_size=4, faults={"stuck_cursor": True})
    items = list(fast_client(hostile).iter_latest(10))

    *models, stop = items
    assert len(models) == 4 == len({m.id for m in models})
    assert (stop.item_id, stop.reason) == (LISTING, "malformed")
    assert stop.message == (
        "listing stopped after 4 of 10 models: a listing page brought no new model (a paging loop?)"
    )
    assert hostile.stats()["by_endpoint"]["list_models"] == 2


# -- nothing sent elsewhere --------------------------------------------------------------------


class _BareHub(BaseHTTPRequestHandler):
    """A bare HTTP listener's handler: `answer` sends one body; nothing is logged."""

    def answer(self, status: int, body: bytes, kind: str = "application/json", **headers):
        self.send_response(status)
        for name, value in {"Content-Type": kind, "Content-Length": len(body), **headers}.items():
            self.send_header(name, str(value))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextmanager
def bare_hub(handler: type[BaseHTTPRequestHandler]):
    """A listener on a free port, serving `handler` in a thread; yields its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        process_rate_limiter().forget(url)


class _Listener(_BareHub):
    """Answers like a Hub with one model, and writes down every request it gets."""

    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - the handler's API
        path = urlsplit(self.path).path
        self.seen.append(f"{self.command} {path}")
        record = snapshot_record(GPT2)
        if path == "/api/models":
            body, kind = json.dumps([record]).encode(), "application/json"
        elif path == f"/api/models/{GPT2}":
            body, kind = json.dumps(record).encode(), "application/json"
        elif path == f"/{GPT2}/resolve/main/README.md":
            body, kind = b"# gpt2\n", "text/plain"
        else:
            body, kind = b'{"error": "not found"}', "application/json"
        self.answer(200 if kind != "application/json" or b"error" not in body else 404, body, kind)


def test_a_client_run_sends_only_the_requests_it_makes(tmp_path):
    _Listener.seen = []
    with bare_hub(_Listener) as url:
        child = _client_run(url, tmp_path)
    assert child.returncode == 0, child.stderr[-2000:]
    assert _Listener.seen == [
        "GET /api/models",
        f"GET /api/models/{GPT2}",
        f"GET /{GPT2}/resolve/main/README.md",
    ]


def _client_run(url: str, tmp_path) -> subprocess.CompletedProcess:
    # A fresh process, as a job is; huggingface_hub's defaults point at the listener too, so a
    # side request it makes of its own (agent detection, telemetry) would land there.
    env = {**os.environ, "HF_ENDPOINT": url, "HF_HOME": str(tmp_path / "hf_home"),
           "AI_AGENT": "hfharvest-test"}  # fmt: skip
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    script = (
        "import sys; from hfharvest.hub import HubClient\n"
        "client = HubClient(sys.argv[1], max_retries=0)\n"
        f"assert [m.id for m in client.list_latest(1)] == [{GPT2!r}]\n"
        f"assert client.model_info({GPT2!r}).id == {GPT2!r}\n"
        f"assert client.readme({GPT2!r}, 'main')[0] == '# gpt2\\n'\n"
    )
    return subprocess.run([sys.executable, "-c", script, url], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


# -- odd numbers and fields (a review against a hostile server, 2026-12-01) --------------------


@pytest.mark.parametrize("fault", ["absurd_retry_after", "absurd_ratelimit"])
def test_a_wait_of_hundreds_of_digits_is_refused_not_a_crash(hostile, fault):
    """`Retry-After: 999…9` (400 digits) overflowed the limiter's float clock: OverflowError
    escaped the client and sank the whole stage."""
    hostile.configure(faults={fault: {"rate": 1, "seconds": 10**400}})
    client = fast_client(hostile)
    outcomes = []
    for model in (GPT2, "gpt2"):
        try:
            outcomes.append(client.model_info(model).id)
        except errors.HarvestError as err:
            outcomes.append(err.reason)
            assert "over the 5 s cap (hub.max_wait_s)" in err.message
    assert outcomes[-1] == "rate_limited"
    assert outcomes[0] == ("rate_limited" if fault == "absurd_retry_after" else GPT2)


class _SlowRedirects(_BareHub):
    """Each /api/models/hop/mN answers a 307 to hop/mN+1 after 0.3 s, without end."""

    def do_GET(self):  # noqa: N802 - the handler's API
        hop = int(self.path.split("?")[0].rsplit("/m", 1)[1])
        threading.Event().wait(0.3)
        self.answer(307, b"", Location=f"/api/models/hop/m{hop + 1}")


def test_a_chain_of_slow_redirects_ends_at_the_deadline():
    """Each hop is within the read timeout; `hub.deadline_s` bounds the whole answer, hops
    included (it used to be checked on the body only: 15 hops of 1.5 s took 24 s against 3)."""
    with bare_hub(_SlowRedirects) as url:
        client = HubClient(url, timeout=2, max_retries=0, deadline_s=1)
        err = outcome(lambda: client.model_info("hop/m0"))
    assert err.reason == "transient"
    assert err.message == (
        "no complete answer within the deadline (headers or redirects) (hub.deadline_s)"
    )


def test_numbers_no_run_file_can_hold_become_null():
    """`1e999` is valid JSON (Python reads NaN too); yajl, which reads the run files back,
    refuses Infinity, NaN and integers past 64 bits (-2**63 included, as the run files are read):
    one such field sank the whole run."""
    body = b'{"a": 1e999, "b": -1e999, "c": NaN, "d": 1000000000000000000000000000000, "e": 1.5, '
    body += b'"f": -9223372036854775808, "g": 9223372036854775808, "h": [Infinity, 42], '
    body += b'"i": -9223372036854775807}'
    value = answers.loads(body)
    assert value == {
        "a": None, "b": None, "c": None, "d": None, "e": 1.5,
        "f": None, "g": None, "h": [None, 42], "i": 1 - 2**63,
    }  # fmt: skip
    as_read = ijson.items(io.BytesIO(json.dumps(value).encode()), "", use_float=True)
    assert list(as_read) == [value]


class _OddFields(_BareHub):
    """A Hub whose /api/tasks and one dataset record carry fields of the wrong type."""

    ANSWERS = {
        "/api/tasks": {"fill-mask": {"label": 5, "libraries": 5, "summary": ["x"],
                                     "isPlaceholder": 1}},
        "/api/datasets/squad": {"id": "squad", "sha": 12345, "tags": []},
    }  # fmt: skip

    def do_GET(self):  # noqa: N802 - the handler's API
        answer = self.ANSWERS.get(self.path.split("?")[0])
        body = json.dumps(answer if answer is not None else {"error": "not found"}).encode()
        self.answer(200 if answer is not None else 404, body)


def test_one_odd_field_of_a_task_or_a_dataset_costs_that_field_only(tmp_path):
    """`libraries: 5` in /api/tasks and `sha: 12345` in a dataset record (with the entity cache
    on, the default) each crashed their whole enrich stage."""
    with bare_hub(_OddFields) as url:
        client = HubClient(url, **FAST)
        [task] = enrich_tasks({"m": ["fill-mask"]}, client)
        cache = EntityCache(tmp_path, "datasets", url)
        [dataset] = enrich_datasets(client, {"m": ["squad"]}, 1, cache=cache)
    assert task["enriched"] and task["label"] == "Fill-Mask" and task["libraries"] == []
    assert task["summary"] is None and task["is_placeholder"] is None
    assert dataset["enriched"] and dataset["id"] == "squad" and dataset["sha"] == 12345
    assert not any(tmp_path.rglob("*.json"))  # no version to key it by: not cached


class _RelativePages(_BareHub):
    """Two listing pages, the first linking the second by a relative reference (RFC 8288), one
    record with a `sha` that is a path; every README is `# card`. Paths asked are kept."""

    seen: list[str] = []
    RECORD: dict = {}

    def do_GET(self):  # noqa: N802 - the handler's API
        self.seen.append(self.path)
        second = "cursor=2" in self.path
        if not self.path.startswith("/api/models"):  # a README
            return self.answer(200, b"# card\n", "text/plain")
        names = ["c"] if second else ["a", "b"]
        page = [{**self.RECORD, "id": f"org/{name}", "modelId": f"org/{name}"} for name in names]
        if not second:
            page[1]["sha"] = "../../../../etc/x"
        link = {} if second else {"Link": '</api/models?cursor=2>; rel="next"'}
        self.answer(200, json.dumps(page).encode(), **link)


def test_a_relative_next_page_is_followed_and_a_sha_that_is_a_path_never_reaches_a_url():
    _RelativePages.seen, _RelativePages.RECORD = [], snapshot_record(GPT2)
    with bare_hub(_RelativePages) as url:
        got = Harvest.collect(Extractor(HubClient(url, **FAST), threads=1).latest(3))
    assert [model["modelId"] for model in got.models] == ["org/a", "org/b", "org/c"]
    [bad] = [model for model in got.models if model["modelId"] == "org/b"]
    assert bad["sha"] is None and bad["card"] == "# card\n"
    [failure] = got.failures
    assert failure["model_id"] == "org/b" and "is no commit id: dropped" in failure["message"]
    assert not any("etc" in path for path in _RelativePages.seen)


# -- the enrich stages against a hostile hub (a review, 2026-12-01) ----------------------------


def articles_file(hostile, tmp_path, ids: list[str], **options) -> dict[str, dict]:
    """enrich_articles on the replica's arXiv route, written as the stage writes it and read
    back as the next stages read it (ijson)."""
    path = tmp_path / "arxiv_articles.json"
    endpoint = f"{hostile.url}/api/query"
    write_items(path, enrich_articles({"m": ids}, endpoint, delay_s=0, **options))
    return {paper["id"]: paper for paper in iter_items(path)}


def test_an_arxiv_tag_with_a_version_of_thousands_of_digits_is_an_invalid_id(hostile, tmp_path):
    """`arxiv:2106.09685v999…`: 5000 digits crashed enrich_articles (Python's int-string limit),
    25 made a number the run files' reader cannot hold. Identify keeps such a tag as given, and
    enrich reports it `invalid_id`, without asking arXiv for it."""
    tags = [f"arxiv:2106.09685v{'9' * 5000}", f"arxiv:2106.09685v{'9' * 25}", "arxiv:1810.04805"]
    ids = identify_articles({**snapshot_record(GPT2), "tags": tags})
    assert ids == sorted(tags)
    papers = articles_file(hostile, tmp_path, ids)
    assert papers["arxiv:1810.04805"]["enriched"] and papers["arxiv:1810.04805"]["version"] == 2
    for tag in tags[:2]:
        assert papers[tag]["reason"] == "invalid_id"
        assert len(papers[tag]["message"]) < 150  # the id is shown cut, not 5000 digits long
    assert hostile.stats()["by_endpoint"]["arxiv_query"] == 1  # BERT's only


@pytest.mark.parametrize("digits", [25, 5000])
def test_a_feed_entry_with_a_version_of_many_digits_costs_that_paper_only(
    hostile, tmp_path, digits
):
    hostile.configure(faults={"arxiv_version_digits": digits})
    papers = articles_file(hostile, tmp_path, ["arxiv:1810.04805", "arxiv:not-an-id"])
    bert = papers["arxiv:1810.04805"]
    assert (bert["enriched"], bert["reason"]) == (False, "not_in_answer") and "version" not in bert
    assert papers["arxiv:not-an-id"]["reason"] == "invalid_id"


def test_an_empty_arxiv_answer_is_kept_a_day_not_a_week(hostile, tmp_path):
    """A well-formed feed with no entry was cached as `not_found` for the whole batch, for
    `arxiv.max_age_h` (a week). arXiv lists nothing for an id it does not know, so absence is a
    weak verdict: the ids are `not_in_answer`, kept `arxiv.absent_max_age_h` only (here 0)."""
    endpoint = f"{hostile.url}/api/query"
    cache = EntityCache(tmp_path / "cache", "articles", endpoint)
    wanted = ["arxiv:1810.04805", "arxiv:1910.01108"]
    hostile.configure(faults={"arxiv_empty": True})
    empty = articles_file(hostile, tmp_path, wanted, cache=cache)
    assert {paper["reason"] for paper in empty.values()} == {"not_in_answer"}
    hostile.configure(faults={})
    hostile.reset_stats()
    kept = articles_file(hostile, tmp_path, wanted, cache=cache)  # within the default day
    assert {paper["reason"] for paper in kept.values()} == {"not_in_answer"}
    assert hostile.stats()["by_endpoint"].get("arxiv_query", 0) == 0
    again = articles_file(hostile, tmp_path, wanted, cache=cache, absent_max_age_h=0)
    assert all(p["enriched"] for p in again.values())
    assert not any(p["extraction_metadata"].get("from_cache") for p in again.values())
    assert hostile.stats()["by_endpoint"]["arxiv_query"] == 1


def test_only_an_arxiv_error_entry_is_a_verdict_on_an_id():
    """The one answer that may be cached as `not_found`: arXiv's error entry (HTTP 400), as the
    replica writes it; a feed of papers, or of none, names no error."""
    refused = arxiv_error("incorrect_id_format_for_1234.5678v0", "incorrect id format for x")
    assert feed_error(refused.body) == "incorrect id format for x"
    empty = arxiv_feed("", ["2401.00001"], 0, 1, 0, []).encode()
    assert feed_error(empty) is None and parse_feed(empty) == {}
    assert feed_error(b"<feed") is None  # unreadable: no verdict either


def test_a_chain_of_slow_redirects_on_arxiv_ends_at_the_deadline(hostile, tmp_path):
    """The arXiv client checked its deadline on the body only: 12 slow redirects took 40 s
    against a 3 s deadline. Now each hop's headers are checked too (the Hub client's hook), and
    redirects are bounded (`arxiv.max_redirects`)."""
    hostile.configure(faults={"slow_redirects": {"seconds": 0.4, "endpoints": ["arxiv_query"]}})
    started = time.monotonic()
    [slow] = articles_file(hostile, tmp_path, ["arxiv:1810.04805"], retries=0, deadline_s=1,
                           max_redirects=30).values()  # fmt: skip
    assert time.monotonic() - started < 2.5
    assert slow["reason"] == "transient"
    expected = "no complete answer within the deadline (headers or redirects) (arxiv.deadline_s)"
    assert expected in slow["message"]
    hostile.configure(faults={"slow_redirects": {"seconds": 0, "endpoints": ["arxiv_query"]}})
    hostile.reset_stats()
    sent = Counter()
    [loop] = articles_file(hostile, tmp_path, ["arxiv:1810.04805"], retries=2, max_redirects=3,
                           requests_sent=sent).values()  # fmt: skip
    assert loop["reason"] == "malformed"
    assert "more than 3 redirects (arxiv.max_redirects)" in loop["message"]
    assert sent["arxiv"] == hostile.stats()["by_endpoint"]["arxiv_query"] == 4  # not retried


def in_thread(call, timeout_s: float):
    """`call()`'s value, or a test failure once `timeout_s` have passed (a loop that never ends
    fails the test instead of hanging it)."""
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("value", call()), daemon=True)
    worker.start()
    worker.join(timeout_s)
    assert not worker.is_alive(), f"still running after {timeout_s} s"
    return result["value"]


@pytest.mark.parametrize("max_pages", [None, 2])
def test_an_endless_dataset_listing_stops_at_its_bound_and_keeps_what_it_listed(
    hostile, tmp_path, caplog, max_pages
):
    """A listing whose every page links a next one: enrich_datasets never ended. It reads at
    most `hf.datasets_listing_max_pages` pages, and no more than there are datasets to ask (more
    would cost more than asking them one by one); then it says so, and goes on."""
    hostile.configure(faults={"endless_pages": True})
    cache = EntityCache(tmp_path, "datasets", hostile.url)
    wanted = {"m": ["bookcorpus", "wikipedia", "glue", "c4", "no-org/no-dataset"]}
    options = {} if max_pages is None else {"listing_max_pages": max_pages}
    with caplog.at_level(logging.WARNING, logger="hfharvest.enrich.datasets"):
        got = in_thread(lambda: list(enrich_datasets(fast_client(hostile), wanted, 2, cache=cache,
                                                     bulk_min=4, croissant=False, **options)),
                        60)  # fmt: skip
    pages = max_pages or 5  # 5 datasets to ask
    asked = hostile.stats()["by_endpoint"]
    assert asked["list_datasets"] == pages
    assert asked["dataset_info"] == 1  # the one no page listed
    [warning] = [r.getMessage() for r in caplog.records if "dataset listing" in r.getMessage()]
    assert f"more than {pages} pages: stopped (hf.datasets_listing_max_pages" in warning
    assert "asked one by one" in warning
    by_id = {entity["id"]: entity for entity in got}
    assert all(by_id[name]["enriched"] for name in ["bookcorpus", "wikipedia", "glue", "c4"])
    assert by_id["no-org/no-dataset"]["reason"] == "not_found"


def test_a_dataset_listing_whose_pages_repeat_is_a_paging_loop(hostile):
    """A cursor that moves on while the pages do not: each page was read again as new."""
    hostile.configure(faults={"stuck_cursor": True})
    listed = []
    err = outcome(lambda: listed.extend(fast_client(hostile).list_datasets(20)))
    assert (err.item_id, err.reason) == ("listing:datasets", "malformed")
    assert "page 2 repeats an earlier page (a paging loop)" in err.message
    assert len(listed) == len({entry["id"] for entry in listed}) == 20


# Two datasets' Croissant answers, parsed (or refused) in a fresh interpreter: its peak RSS
# growth is theirs alone.
CROISSANT_CHILD = r"""
import json, resource, sys
from hfharvest.enrich.datasets import enrich_datasets
from hfharvest.hub import HubClient

client = HubClient(sys.argv[1], max_retries=0, timeout=10)  # the default caps
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
got = list(enrich_datasets(client, {"m": ["c4", "glue"]}, 2))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"datasets": [[d["id"], d["enriched"], d["croissant_status"]] for d in got],
                  "grew_mb": (after - before) / 1024}))
"""


def test_a_dense_croissant_under_the_json_cap_is_refused_before_it_costs_gigabytes():
    """A 12 MiB Croissant of `[{},{},…]` is under the 64 MiB JSON cap, and parsed it took
    ~25 times that, per thread (48 MiB: 1.3 GB). Croissant answers have a cap of their own,
    `hub.croissant_max_mb` (4): over it the Croissant is `malformed`, the record kept."""
    faults = {"huge_body": {"bytes": 12 * 1024**2, "dense": True, "endpoints": ["croissant"]}}
    with ReplicaHub(faults=faults) as hub:
        child = subprocess.run([sys.executable, "-c", CROISSANT_CHILD, hub.url],
                               capture_output=True, text=True, timeout=120, cwd=REPO)  # fmt: skip
    assert child.returncode == 0, child.stderr[-2000:]
    result = json.loads(child.stdout)
    assert result["datasets"] == [["c4", True, "malformed"], ["glue", True, "malformed"]]
    assert result["grew_mb"] < 100, result  # parsed, the two took ~600 MB


# -- odd record fields (hostile review, round 3) -------------------------------------------------


def test_a_lone_surrogate_in_a_record_is_replaced_not_a_crash_of_the_stage(hostile, tmp_path):
    """`"\\ud800"` is valid JSON (a card's YAML `"\\uD800"` reaches the Hub's JSON so): json.loads
    gave a string no UTF-8 file can hold, and writing the one record failed the whole listing
    stage with UnicodeEncodeError. Paired surrogates stay the one character they are."""
    odd = {"tags": ["lone\ud800tag", "\U0001f600"], "library_name": "x\udfff",
           "cardData": {"license\ud800": "mit", "datasets": ["squad", "d\udc00x"]}}  # fmt: skip
    hostile.configure(faults={"fields": {GPT2: odd}})
    client = fast_client(hostile)
    [listed] = [info for info in client.list_latest(100) if info.id == GPT2]  # a listing entry
    assert listed.tags == ["lone\ufffdtag", "\U0001f600"]
    path = tmp_path / "stage.json"
    with artifact_writer(path, "extract_from_file") as out:  # a record fetched by id
        out.add(Extractor(client, threads=1).by_ids([GPT2], source="file"))
    [record] = iter_models(path)
    assert record["tags"] == ["lone\ufffdtag", "\U0001f600"]
    assert record["library_name"] == "x\ufffd"
    assert record["cardData"]["datasets"] == ["squad", "d\ufffdx"]
    assert "license\ufffd" in record["cardData"]
    assert hostile.stats()["faults_injected"]["fields"] >= 2


@pytest.mark.parametrize(
    ("odd", "kept"),
    [
        ({"createdAt": "0000-01-01T00:00:00.000Z"}, {"createdAt": None}),
        ({"createdAt": "99999-01-01T00:00:00Z", "lastModified": 5}, {"last_modified": None}),
        ({"lastModified": "2024-13-45T25:61:00+99:00"}, {"last_modified": None}),
        ({"safetensors": "garbage"}, {"safetensors": None}),
        ({"safetensors": {"parameters": ["F32"], "total": 5}}, {"safetensors": None}),
        ({"safetensors": {"total": 5}}, {"safetensors": None}),
    ],
)
def test_an_odd_date_or_safetensors_costs_that_field_not_the_model(hostile, odd, kept):
    """huggingface_hub's ModelInfo raises on a date not in the Hub's one format and on a
    `safetensors` without `parameters` and `total`: the whole model was `malformed`, lost."""
    hostile.configure(faults={"fields": {GPT2: odd}})
    client = fast_client(hostile)
    [listed] = [info for info in client.list_latest(100) if info.id == GPT2]
    got = Harvest.collect(Extractor(client, threads=1).by_ids([GPT2], source="file"))
    for info in (listed, client.model_info(GPT2)):
        problems: list[str] = []
        record = model_info_to_dict(info, problems)
        assert {key: record[key] for key in kept} == kept
        assert problems and all(p.endswith(": dropped") for p in problems)
    [record] = got.models
    assert record["modelId"] == GPT2 and record["tags"] == snapshot_record(GPT2)["tags"]
    [failure] = got.failures
    assert (
        failure["reason"] == "malformed" and "(the rest of the record kept)" in failure["message"]
    )


def _split_token_by_token(body: bytes):
    """What answers.split_array gave when its loop met every string as a token of its own: the
    reference its one-match-a-structural-character scan must agree with."""
    stack, start, deepest, entries = [], 1, 0, []
    body = body.lstrip()
    for match in answers._TOKENS.finditer(body):
        at, char = match.start(), body[match.start()]
        if char in answers._OPENERS:
            stack.append(answers._OPENERS[char])
            deepest = max(deepest, len(stack) - 1)
        elif char in b"]}":
            if not stack or stack.pop() != char:
                return entries, f"JSON array broken at byte {at}: unmatched {chr(char)!r}"
            if not stack:
                if last := body[start:at].strip():
                    entries.append((last, deepest))
                after = body[at + 1 :].strip()
                return entries, f"text after the JSON array at byte {at + 1}" if after else None
        elif char == ord(",") and len(stack) == 1:
            entries.append((body[start:at].strip(), deepest))
            start, deepest = at + 1, 0
    return entries, "JSON array not closed (cut short?)"


def _split_now(body: bytes):
    entries = []
    try:
        for entry in answers.split_array(body):
            entries.append(entry)
    except answers.BrokenArray as err:
        return entries, str(err)
    return entries, None


def test_a_listing_page_splits_as_token_by_token_on_any_text():
    """Listing pages are split into entries by a scan that matches structural characters only:
    on valid pages and on random hostile text (unclosed strings, stray quotes and backslashes,
    escaped newlines, brackets in strings) it gives the same entries and the same breakage."""
    rng = random.Random(10)
    parts = [b"[", b"]", b"{", b"}", b",", b'"', b"\\", b'\\"', b"\\\n", b"\n", b" ", b"a",
             b"1", b'"x,]"', b'"\\\\"', b":", b"\xc3\xa9", b"\xff"]  # fmt: skip
    valid = json.dumps([snapshot_record("gpt2"), {"id": "a/b", "t": ['"]', "\\"]}, [], 1])
    bodies = [valid.encode(), b"", b"[", b"[]", b"[1] x", b' ["a\\\n"]']
    bodies += [b"[" + b"".join(rng.choices(parts, k=rng.randint(0, 40))) for _ in range(3000)]
    for body in bodies:
        if body.lstrip().startswith(b"["):
            assert _split_now(body) == _split_token_by_token(body), body


def _random_value(rng: random.Random, depth: int):
    """A JSON value of odd numbers, strings and nesting (up to `depth` levels)."""
    scalars = ["a", "é\n\"", "\ud800", "\ud83d\ude00", "x\u2028", 1, -0.0, 1.5e300, 2**63 - 1,
               2**63, -(2**63), 10**30, float("nan"), float("inf"), None, True]  # fmt: skip
    if depth == 0 or rng.random() < 0.4:
        return rng.choice(scalars)
    items = [_random_value(rng, depth - 1) for _ in range(rng.randint(0, 3))]
    return items if rng.random() < 0.5 else {str(i): item for i, item in enumerate(items)}


def _nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return {"id": "a/b", "v": value}


def test_a_plain_listing_page_parses_as_its_split_entries_do():
    """A page read in one pass an entry gives exactly what its split entries give one by one
    (json_value: odd numbers read as null, lone surrogates replaced); a page with an entry that
    would be skipped, or any other text, is left to the split (None)."""
    rng = random.Random(11)
    spaces = ["", " ", "\n", " \t\r\n"]
    pages = [[snapshot_record("gpt2"), snapshot_record("google-bert/bert-base-uncased")], [],
             [_nested(answers.MAX_DEPTH - 1)], [_nested(answers.MAX_DEPTH)]]  # fmt: skip
    pages += [[_random_value(rng, 5) for _ in range(rng.randint(1, 4))] for _ in range(1500)]
    bodies = []
    for page in pages:
        space = rng.choice(spaces)
        text = space + "[" + space + ("," + space).join(json.dumps(v) for v in page) + "]" + space
        bodies.append(text.encode())
    bodies += [bodies[0][:-1], bodies[0] + b"x", bodies[0].replace(b"[", b"\x0c[", 1), b"[1,,2]",
               b"[1,]", b'["\xff"]', b'["\xed\xa0\x80"]', b"\xef\xbb\xbf[1]"]  # fmt: skip
    parsed = 0
    for body in bodies:
        if (values := answers.parsed_array(body)) is None:
            continue
        parsed += 1
        entries, broken = _split_now(body)
        assert broken is None and all(depth <= answers.MAX_DEPTH for _, depth in entries), body
        expected = [answers.json_value(raw) for raw, _ in entries]
        assert json.dumps(values) == json.dumps(expected), body  # NaN-safe, order-exact
    assert parsed > 300  # the pages without a lone surrogate, NaN read as null, ...
    assert answers.parsed_array(bodies[2]) is not None  # nested as deep as allowed
    assert answers.parsed_array(bodies[3]) is None  # one level more: skipped by the split path
