"""Entities cached across runs by their own version, counted in requests on the replica hub:
datasets by endpoint, id and sha; arXiv papers by endpoint, id and version."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from card_helpers import card_cache

from hfharvest.cache import EntityCache
from hfharvest.enrich import datasets as datasets_module
from hfharvest.enrich import enrich_articles, enrich_datasets
from hfharvest.hub import HubClient
from hfharvest.replica import ReplicaHub
from hfharvest.stages.extract import Extractor

# Datasets and papers bert-base-uncased's real record names, plus DistilBERT's paper.
DATASETS = {"google-bert/bert-base-uncased": ["bookcorpus", "wikipedia"], "m": ["glue", "c4"]}
PAPERS = {"google-bert/bert-base-uncased": ["arxiv:1810.04805"], "m": ["arxiv:1910.01108v2"]}


class Clock:
    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


def requests_to(hub, *endpoints) -> dict:
    counts = hub.stats()["by_endpoint"]
    return {name: counts.get(name, 0) for name in endpoints}


def datasets_run(hub, root, clock, **options):
    cache = EntityCache(root, "datasets", hub.url, clock=clock)
    return list(enrich_datasets(HubClient(hub.url), DATASETS, 2, cache=cache, **options))


def stable(entities: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "extraction_metadata"} for e in entities]


def test_a_warm_run_asks_nothing_for_datasets_seen_within_the_max_age(replica, tmp_path, clock):
    cold = datasets_run(replica, tmp_path, clock)
    asked = requests_to(replica, "dataset_info", "croissant")
    assert asked == {"dataset_info": 4, "croissant": 4}
    assert all(e["enriched"] and e["sha"] for e in cold)
    replica.reset_stats()
    clock.now += 23 * 3600
    warm = datasets_run(replica, tmp_path, clock, max_age_h=24)
    assert replica.stats()["total"] == 0
    assert stable(warm) == stable(cold)
    assert all(e["extraction_metadata"]["from_cache"] for e in warm)


def test_past_the_max_age_the_record_is_asked_again_and_croissant_reused_by_sha(
    replica, tmp_path, clock
):
    cold = datasets_run(replica, tmp_path, clock)
    replica.reset_stats()
    clock.now += 25 * 3600
    warm = datasets_run(replica, tmp_path, clock, max_age_h=24)
    # The sha did not change: its Croissant answer (ok or 404) is the cached one.
    assert requests_to(replica, "dataset_info", "croissant") == {"dataset_info": 4, "croissant": 0}
    assert stable(warm) == stable(cold)


def test_many_datasets_to_ask_take_their_shas_from_the_paged_listing(replica, tmp_path, clock):
    datasets_run(replica, tmp_path, clock)
    replica.reset_stats()
    clock.now += 25 * 3600
    warm = datasets_run(replica, tmp_path, clock, max_age_h=24, bulk_min=4)
    # Every listed sha is one already cached: the listing pages, and nothing per dataset.
    pages = -(-len(replica.catalogue.datasets) // 20)  # the replica's pages hold 20
    asked = requests_to(replica, "list_datasets", "dataset_info", "croissant")
    assert asked == {"list_datasets": pages, "dataset_info": 0, "croissant": 0}
    assert all(e["enriched"] and e["extraction_metadata"]["from_cache"] for e in warm)


def test_a_cold_run_over_bulk_min_builds_records_from_the_listing_not_dataset_info(
    replica, tmp_path, clock
):
    by_info = datasets_run(replica, tmp_path / "one_by_one", clock)  # 4 < bulk_min: dataset_info
    replica.reset_stats()
    listed = datasets_run(replica, tmp_path / "listed", clock, bulk_min=4)
    pages = -(-len(replica.catalogue.datasets) // 20)
    asked = requests_to(replica, "list_datasets", "dataset_info", "croissant")
    assert asked == {"list_datasets": pages, "dataset_info": 0, "croissant": 4}
    # The listing's fields make the same records as dataset_info does, Croissant included.
    assert stable(listed) == stable(by_info)
    assert all(e["enriched"] and e["sha"] and e["description"] is not None for e in listed)


def test_croissant_over_the_run_limit_is_deferred_then_asked_by_the_next_run(
    replica, tmp_path, clock
):
    first = datasets_run(replica, tmp_path, clock, croissant_max=1)
    assert requests_to(replica, "croissant") == {"croissant": 1}
    statuses = sorted(e["croissant_status"] for e in first)
    assert statuses.count("deferred") == 3 and all(e["enriched"] for e in first)
    replica.reset_stats()
    clock.now += 3600  # records fresh: only the deferred Croissant documents are asked
    second = datasets_run(replica, tmp_path, clock, croissant_max=10)
    assert requests_to(replica, "dataset_info", "croissant") == {"dataset_info": 0, "croissant": 3}
    assert "deferred" not in {e["croissant_status"] for e in second}
    replica.reset_stats()
    third = datasets_run(replica, tmp_path, clock, croissant_max=10)
    assert replica.stats()["total"] == 0 and stable(third) == stable(second)


def test_a_croissant_deferred_again_leaves_its_cached_record_as_it_was(
    replica, tmp_path, clock, monkeypatch
):
    first = datasets_run(replica, tmp_path, clock, croissant_max=1)
    deferred = sorted(e["id"] for e in first if e["croissant_status"] == "deferred")
    replica.reset_stats()
    clock.now += 3600  # records fresh, no Croissant budget: nothing asked, nothing learnt
    made_in = []
    dataset = datasets_module._dataset
    monkeypatch.setattr(datasets_module, "_dataset", lambda *args, **kwargs: made_in.append(
        threading.current_thread()) or dataset(*args, **kwargs))  # fmt: skip
    again = datasets_run(replica, tmp_path, clock, croissant_max=0)
    assert made_in == [threading.current_thread()] * 3  # no request: not handed to a thread
    assert replica.stats()["total"] == 0
    assert stable(again) == stable(first)
    # Not marked seen now: the Hub was not asked, so the record ages from when it was.
    cache = EntityCache(tmp_path, "datasets", replica.url, clock=clock)
    assert not any(cache.is_fresh(dataset, 1800) for dataset in deferred)
    assert all(cache.is_fresh(dataset, 3 * 3600) for dataset in deferred)


def test_a_failed_dataset_listing_falls_back_to_one_request_per_dataset(replica, tmp_path, clock):
    cold = datasets_run(replica, tmp_path, clock)
    replica.configure(faults={"5xx": {"rate": 1.0, "endpoints": ["list_datasets"]}})
    replica.reset_stats()
    clock.now += 25 * 3600
    warm = datasets_run(replica, tmp_path, clock, max_age_h=24, bulk_min=4)
    assert requests_to(replica, "dataset_info", "croissant") == {"dataset_info": 4, "croissant": 0}
    assert requests_to(replica, "list_datasets")["list_datasets"] >= 1
    assert stable(warm) == stable(cold)


def test_the_dataset_cache_is_keyed_by_endpoint(replica, tmp_path, clock):
    datasets_run(replica, tmp_path, clock)
    with ReplicaHub(page_size=20) as other:  # the same data on another endpoint: not reused
        datasets_run(other, tmp_path, clock)
        assert requests_to(other, "dataset_info", "croissant") == {
            "dataset_info": 4,
            "croissant": 4,
        }


def articles_run(hub, root, clock, endpoint=None, **options):
    endpoint = endpoint or f"{hub.url}/api/query"
    cache = EntityCache(root, "articles", endpoint, clock=clock)
    sent = Counter()
    papers = enrich_articles(
        PAPERS, endpoint, delay_s=0, cache=cache, requests_sent=sent, **options
    )
    return list(papers), sent


def test_a_warm_run_asks_arxiv_nothing_for_cached_papers(replica, tmp_path, clock):
    cold, sent = articles_run(replica, tmp_path, clock)
    assert sent == {"arxiv": 1} == {"arxiv": replica.stats()["by_endpoint"]["arxiv_query"]}
    bert = next(p for p in cold if p["id"] == "arxiv:1810.04805")
    assert bert["title"].startswith("BERT: Pre-training of Deep Bidirectional Transformers")
    replica.reset_stats()
    clock.now += 100 * 3600
    warm, sent = articles_run(replica, tmp_path, clock, max_age_h=168)
    assert sent == {"arxiv": 0} and replica.stats()["total"] == 0
    assert stable(warm) == stable(cold)


def test_an_unversioned_paper_is_asked_again_after_the_max_age(replica, tmp_path, clock):
    articles_run(replica, tmp_path, clock)
    replica.reset_stats()
    clock.now += 200 * 3600
    warm, sent = articles_run(replica, tmp_path, clock, max_age_h=168)
    # DistilBERT was asked as v2, and the cached paper is at least v2: only BERT is re-asked.
    distilbert = next(p for p in warm if p["id"] == "arxiv:1910.01108v2")
    assert distilbert["version"] >= 2 and distilbert["extraction_metadata"]["from_cache"]
    assert sent == {"arxiv": 1}


def test_the_arxiv_cache_is_keyed_by_endpoint(replica, tmp_path, clock):
    articles_run(replica, tmp_path, clock)
    with ReplicaHub(page_size=20) as other:
        _, sent = articles_run(other, tmp_path, clock)
        assert sent == {"arxiv": 1} == {"arxiv": other.stats()["by_endpoint"]["arxiv_query"]}


def test_entity_cache_paths_never_leave_the_cache(tmp_path):
    cache = EntityCache(tmp_path, "datasets", "https://huggingface.co")
    for bad in ["../../etc/passwd", "/abs", "a/b/c"]:
        with pytest.raises(ValueError):
            cache.put(bad, "a" * 40, {})
    assert cache.get("org/name", "../../x") is None
    cache.put("org/name", "not/a/version", {})
    assert not any(tmp_path.rglob("*.json"))


def test_a_dataset_or_paper_the_source_lacks_is_asked_again_only_past_the_max_age(
    replica, tmp_path, clock
):
    client = HubClient(replica.url, max_retries=0)
    datasets = EntityCache(tmp_path, "datasets", replica.url, clock=clock)
    endpoint = f"{replica.url}/api/query"
    papers = EntityCache(tmp_path, "articles", endpoint, clock=clock)
    mapping = {"m": ["no-org/no-dataset"]}
    wanted = {"m": ["arxiv:2901.99999"]}  # well formed, and no paper arXiv (or the replica) has
    for hours in (0, 23, 25):
        clock.now += hours * 3600
        replica.reset_stats()
        [dataset] = enrich_datasets(client, mapping, cache=datasets, max_age_h=24)
        [paper] = enrich_articles(wanted, endpoint, delay_s=0, cache=papers, max_age_h=24)
        assert dataset["reason"] == "not_found"  # the Hub says so (404)
        # arXiv's answer only lacks it, as an emptied answer would: kept a day (the default
        # arxiv.absent_max_age_h), as long as max_age_h here.
        assert paper["reason"] == "not_in_answer"
        asked = requests_to(replica, "dataset_info", "arxiv_query")
        expected = 0 if hours == 23 else 1
        assert asked == {"dataset_info": expected, "arxiv_query": expected}, hours


def test_an_id_arxiv_lacked_is_kept_its_shorter_age_within_a_longer_max_age(
    replica, tmp_path, clock
):
    """max_age_h a week, absent_max_age_h a day (the defaults): the lacked id is asked again
    after a day, though its cache entry is younger than a week."""
    endpoint = f"{replica.url}/api/query"
    papers = EntityCache(tmp_path, "articles", endpoint, clock=clock)
    wanted = {"m": ["arxiv:2901.99999"]}
    for hours, expected in ((0, 1), (23, 0), (2, 1), (1, 0)):
        clock.now += hours * 3600
        replica.reset_stats()
        [paper] = enrich_articles(wanted, endpoint, delay_s=0, cache=papers, max_age_h=168,
                                  absent_max_age_h=24)  # fmt: skip
        assert paper["reason"] == "not_in_answer"
        assert requests_to(replica, "arxiv_query") == {"arxiv_query": expected}, hours


def test_base_model_records_of_earlier_runs_are_reused_within_the_max_age(replica, tmp_path, clock):
    def run():
        shared = EntityCache(tmp_path, "models", replica.url, clock=clock)
        extractor = Extractor(HubClient(replica.url, max_retries=0),
                              card_cache(tmp_path, replica.url), shared=shared,
                              max_age_s=24 * 3600)  # fmt: skip
        ids = ("google-bert/bert-base-uncased", "nobody/no-such-model")
        return [extractor.fetch(model_id, source="ancestors") for model_id in ids]

    (bert, _), (_, missing) = run()
    assert replica.stats()["by_endpoint"]["model_info"] == 2
    for hours, asked in ((23, 0), (2, 2)):  # 23 h later: reused; 25 h: asked again
        clock.now += hours * 3600
        replica.reset_stats()
        (again, _), (_, still) = run()
        assert replica.stats()["by_endpoint"]["model_info"] == asked
        assert replica.stats()["by_endpoint"]["resolve_get"] == 0  # README by sha, cached
        assert again["card_sha256"] == bert["card_sha256"] and again["sha"] == bert["sha"]
        assert bert["card_sha256"]  # the README, by its digest in the card store
        assert still["reason"] == missing["reason"] == "not_found"
        assert again["extraction_metadata"].get("reused", False) is (asked == 0)
