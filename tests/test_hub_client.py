"""The Hub client against a replica hub: real HTTP, the real huggingface_hub underneath."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import pytest
from conftest import snapshot_record
from huggingface_hub.utils._datetime import parse_datetime

from hfharvest import errors
from hfharvest.enrich.articles import enrich_articles
from hfharvest.hub import (
    REPLICA_URL_ENV,
    ConfigError,
    HubClient,
    _is_hub_date,
    resolve_endpoint,
    token_from_env,
)
from hfharvest.ids import InvalidModelId
from hfharvest.ratelimit import MAX_WAIT_S, RateLimiter, WaitTooLong
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub
from hfharvest.stages.extract import Extractor, Harvest
from hfharvest.workflow import client_from


def test_latest_listing_is_one_page_per_page_size_and_newest_first(replica):
    client = HubClient(replica.url)
    infos = list(client.list_latest(30, offset=5))
    assert len(infos) == 30
    stamps = [info.last_modified for info in infos]
    assert stamps == sorted(stamps, reverse=True)
    assert replica.stats()["by_endpoint"]["list_models"] == 2  # 35 of page size 20


def test_model_info_follows_a_rename(replica):
    info = HubClient(replica.url).model_info("bert-base-uncased")
    assert info.id == "google-bert/bert-base-uncased"
    assert info.sha == snapshot_record("google-bert/bert-base-uncased")["sha"]


def test_model_info_outcomes(replica):
    client = HubClient(replica.url)
    with pytest.raises(errors.NotFound):
        client.model_info("nobody/nothing-here")
    with pytest.raises(InvalidModelId):
        client.model_info("../../etc/passwd")
    assert replica.stats()["total"] == 1  # the invalid id never became a request


def test_readme_states(replica):
    client = HubClient(replica.url)
    card = (DEFAULT_SNAPSHOT / "cards" / "deepset__roberta-base-squad2.md").read_text()
    sha = snapshot_record("deepset/roberta-base-squad2")["sha"]
    assert client.readme("deepset/roberta-base-squad2", sha) == (card, False)
    assert client.readme("dbmdz/bert-large-cased-finetuned-conll03-english", None) == (None, False)
    with pytest.raises(errors.Gated):
        client.readme("meta-llama/Llama-3.1-8B-Instruct", None)
    text, _ = HubClient(replica.url, token="hf_dummy").readme(
        "meta-llama/Llama-3.1-8B-Instruct", None
    )
    assert "Llama" in text


def test_readme_over_the_cap_is_cut_and_flagged(replica):
    client = HubClient(replica.url, readme_max_bytes=100)
    text, truncated = client.readme("deepset/roberta-base-squad2", None)
    assert truncated and len(text.encode()) <= 100


def test_disabled_repo_is_its_own_outcome(replica):
    replica.configure(disabled_ids=["facebook/bart-base"])
    with pytest.raises(errors.Disabled):
        HubClient(replica.url).model_info("facebook/bart-base")


def test_rate_limited_calls_wait_for_the_window_and_succeed(replica):
    replica.configure(api_rate_limit=3, resolve_rate_limit=3, rate_window=1)
    client = HubClient(replica.url, backoff_s=0.1)
    harvest = Harvest.collect(Extractor(client, threads=4).latest(8))
    assert len(harvest.models) == 8
    assert [f for f in harvest.failures if f["reason"] != "gated"] == []


def test_retries_give_up_as_rate_limited_when_the_budget_never_returns(replica):
    replica.configure(api_rate_limit=0, rate_window=1)
    client = HubClient(replica.url, max_retries=1, backoff_s=0.05, max_wait_s=1.5)
    with pytest.raises(errors.RateLimited):
        client.model_info("gpt2")
    assert replica.stats()["rate_limited"] == 2  # the call and its one retry


def test_a_wait_announced_beyond_the_cap_fails_at_once_and_says_how_long(replica):
    replica.configure(api_rate_limit=0, rate_window=1)  # a 429 with Retry-After: 1
    client = HubClient(replica.url, max_retries=3, backoff_s=0.05, max_wait_s=0.1)
    with pytest.raises(errors.RateLimited, match=r"wait 1 s \(Retry-After\), over the 0.1 s cap"):
        client.model_info("gpt2")
    assert replica.stats()["rate_limited"] == 1  # not retried: the wait is not taken


class FakeClock:
    def __init__(self):
        self.now = 100.0
        self.slept = []

    def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


def request_to(url):
    return type("Request", (), {"url": url})


def test_limiter_spends_the_announced_budget_then_waits_for_the_window():
    clock = FakeClock()
    limiter = RateLimiter(clock=lambda: clock.now, sleep=clock.sleep)
    api = request_to("http://h/api/models/x")
    limiter.before_request(api)  # unknown budget: go
    policy = '"fixed window";"api";q=3;w=10'
    limiter.observe(
        "http://h/api/models/x", 200, {"RateLimit": '"api";r=2;t=10', "RateLimit-Policy": policy}
    )
    limiter.before_request(api)
    limiter.before_request(api)  # the budget is now spent, before any answer says so
    assert clock.slept == []
    limiter.before_request(api)  # waits for the reset, then a fresh quota of 3
    assert clock.slept == [10.0]
    limiter.before_request(request_to("http://h/gpt2/resolve/main/README.md"))  # other bucket
    limiter.before_request(request_to("http://other-host/api/models/x"))  # other host
    assert clock.slept == [10.0]
    assert limiter.requests == {"api": 5, "resolvers": 1}


def test_limiter_takes_a_429_retry_after_as_a_spent_budget():
    clock = FakeClock()
    limiter = RateLimiter(clock=lambda: clock.now, sleep=clock.sleep)
    limiter.observe("http://h/api/models/x", 429, {"Retry-After": "7"})
    limiter.before_request(request_to("http://h/api/models/y"))
    assert clock.slept == [7.0]


def test_limiter_never_sleeps_past_the_cap_and_forgets_on_request():
    clock = FakeClock()
    limiter = RateLimiter(clock=lambda: clock.now, sleep=clock.sleep)
    limiter.observe("http://h/api/models/x", 200, {"RateLimit": '"api";r=0;t=100000000'})
    for _ in range(3):  # every request fails at once; none waits
        with pytest.raises(WaitTooLong, match="wait 100000000 s"):
            limiter.before_request(request_to("http://h/api/models/y"))
    assert clock.slept == [] and limiter.requests == {}
    scope = MAX_WAIT_S.set(200_000_000)  # a cap above the wait: it is waited for
    try:
        limiter.before_request(request_to("http://h/api/models/y"))
    finally:
        MAX_WAIT_S.reset(scope)
    assert clock.slept == [100000000.0]
    limiter.observe("http://h/api/models/x", 200, {"RateLimit": '"api";r=0;t=100000000'})
    limiter.forget("http://h")
    limiter.before_request(request_to("http://h/api/models/y"))
    assert clock.slept == [100000000.0]


def test_token_never_shows_in_repr_errors_or_logs(replica, caplog):
    caplog.set_level(logging.DEBUG)
    client = HubClient(replica.url, token="hf_SECRET_dummy_token")
    with pytest.raises(errors.NotFound) as raised:
        client.model_info("nobody/nothing-here")
    client.readme("meta-llama/Llama-3.1-8B-Instruct", None)
    assert "hf_SECRET" not in repr(client) + str(raised.value) + raised.value.message
    assert "hf_SECRET" not in caplog.text


def test_replica_endpoint_needs_the_workflow_started_replica(monkeypatch):
    monkeypatch.delenv(REPLICA_URL_ENV, raising=False)
    with pytest.raises(RuntimeError, match=REPLICA_URL_ENV):
        resolve_endpoint("replica")
    monkeypatch.setenv(REPLICA_URL_ENV, "http://127.0.0.1:9/")
    assert resolve_endpoint("replica") == "http://127.0.0.1:9"


def test_no_token_means_no_token_even_if_one_is_stored(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_from_the_environment")
    with ReplicaHub() as hub, pytest.raises(errors.Gated):
        HubClient(hub.url, token=None).readme("meta-llama/Llama-3.1-8B-Instruct", None)


def test_a_new_window_refills_the_budget_once_not_per_request():
    clock = FakeClock()
    limiter = RateLimiter(clock=lambda: clock.now, sleep=clock.sleep)
    api = request_to("http://h/api/models/x")
    policy = '"fixed window";"api";q=3;w=10'
    limiter.observe(api.url, 200, {"RateLimit": '"api";r=0;t=10', "RateLimit-Policy": policy})
    for _ in range(3):  # the next window's quota, before any answer of that window
        limiter.before_request(api)
    assert clock.slept == [10.0]
    limiter.before_request(api)  # the fourth waits for the window after
    assert clock.slept == [10.0, 10.0]


# -- token and endpoint hygiene ----------------------------------------------------------------

BAD_TOKENS = {
    "trailing space": "hf_AbCdEf123 ",
    "leading space": " hf_AbCdEf123",
    "trailing LF": "hf_AbCdEf123\n",
    "CR inside": "hf_AbC\rdEf123",
    "control character": "hf_AbC\x07dEf123",
    "non-ASCII": "hf_AbCdéf123",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_malformed_token_is_a_config_error_before_any_request(replica, monkeypatch, kind):
    monkeypatch.setenv("HFHARVEST_TEST_TOKEN", BAD_TOKENS[kind])
    with pytest.raises(ConfigError) as caught:
        client_from({"endpoint": replica.url, "token_env": "HFHARVEST_TEST_TOKEN"})
    message = str(caught.value)
    assert message.startswith("the token in HFHARVEST_TEST_TOKEN has ")
    assert "AbC" not in message and "123" not in message  # never the value
    with pytest.raises(ConfigError):  # a token given directly is checked the same way
        HubClient(replica.url, token=BAD_TOKENS[kind])
    assert replica.stats()["total"] == 0


def test_a_wellformed_token_passes_and_an_empty_variable_means_none(monkeypatch):
    monkeypatch.setenv("HFHARVEST_TEST_TOKEN", "hf_AbCdEf123")
    assert token_from_env("HFHARVEST_TEST_TOKEN") == "hf_AbCdEf123"
    monkeypatch.setenv("HFHARVEST_TEST_TOKEN", "")
    assert token_from_env("HFHARVEST_TEST_TOKEN") is None


def test_credentials_in_an_endpoint_are_refused_without_being_shown(replica):
    host = urlsplit(replica.url).netloc
    for make in (
        lambda: HubClient(f"http://harvester:pa55word@{host}"),
        lambda: client_from({"endpoint": f"http://harvester:pa55word@{host}"}),
        lambda: enrich_articles({"m": ["arxiv:1810.04805"]}, f"http://harvester:pa55word@{host}"),
    ):
        with pytest.raises(ConfigError) as caught:
            make()
        message = str(caught.value)
        assert f"(http://***@{host})" in message and "credentials" in message
        assert "harvester" not in message and "pa55word" not in message
    assert "arxiv.endpoint" in message
    assert replica.stats()["total"] == 0


def test_the_config_bounds_reach_the_client():
    client = client_from({"endpoint": "http://127.0.0.1:9", "max_wait_s": 7, "deadline_s": 9,
                          "json_max_mb": 2, "readme_max_mb": 0.5})  # fmt: skip
    bounds = (client.max_wait_s, client.deadline_s, client.json_max_bytes, client.readme_max_bytes)
    assert bounds == (7, 9, 2 * 1024**2, 512 * 1024)


@pytest.mark.parametrize(
    "value",
    [
        "2024-04-10T16:00:24.363Z", "2024-04-10T16:00:24Z", "2024-04-10T16:00:24.1234567Z",
        "2024-02-29T00:00:00.000Z", "2023-02-29T00:00:00.000Z", "2024-04-31T00:00:00Z",
        "2024-13-01T00:00:00Z", "2024-00-10T00:00:00Z", "0000-01-01T00:00:00Z",
        "2024-01-01T24:00:00Z", "2024-01-01T23:60:00Z", "2024-01-01T23:59:60Z",
        "2024-01-01T23:59:61.5Z", "2024-01-01T00:00:00.Z", "2024-01-01t00:00:00.000z",
        "2024-01-01T00:00:00.000", "2024-1-01T00:00:00Z", "٢٠٢٤-01-01T00:00:00Z",
        "2024-01-01T00:00:00.1.2Z", "2024-01-01T00:00:00.12aZ", "2024-01-01 00:00:00Z", "",
        "not a date", 20240101, 1.5, ["2024-01-01T00:00:00Z"], {"a": 1}, True,
    ],
)  # fmt: skip
def test_a_listed_date_is_kept_exactly_when_huggingface_hub_reads_it(value):
    """The listing checks the Hub's dates without strptime: the same verdict as the
    parse_datetime ModelInfo calls, on dates in the Hub's form and on every odd value."""
    try:
        parse_datetime(value)
        reads = True
    except (TypeError, ValueError, AttributeError):
        reads = False
    assert _is_hub_date(value) is reads
