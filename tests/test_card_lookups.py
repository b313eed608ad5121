"""A warm extract answers cached READMEs in the job's own thread and sends only the changed
ones to the request pool, keeping the listing's order (issue 10: a warm run's CPU)."""

from __future__ import annotations

import threading

import pytest
from card_helpers import card_cache, inline

from hfharvest.hub import HubClient
from hfharvest.replica import ReplicaHub
from hfharvest.stages.extract import Extractor, Harvest
from hfharvest.threads import ordered_map

N = 24


def test_ordered_map_keeps_order_and_hands_the_pool_only_what_it_cannot_answer_here():
    here, pooled = [], []

    def answer_here(item: int):
        here.append(threading.current_thread())
        return -item if item % 3 else None  # multiples of 3 need the pool

    def in_pool(item: int) -> int:
        pooled.append((item, threading.current_thread()))
        return item * 10

    results = list(ordered_map(in_pool, range(1, 31), threads=4, answer_here=answer_here))
    assert results == [i * 10 if i % 3 == 0 else -i for i in range(1, 31)]
    assert sorted(item for item, _ in pooled) == list(range(3, 31, 3))
    assert set(here) == {threading.current_thread()}
    assert threading.current_thread() not in {thread for _, thread in pooled}


@pytest.mark.parametrize("per_thread", [1, 2, 4])
def test_ordered_map_holds_at_most_its_window_of_results(per_thread):
    """What enrich_datasets relies on to hold a few Croissant documents, not a chunk of 256:
    an item is taken from the input only when fewer than threads x per_thread are pending."""
    taken, consumed, ahead = 0, 0, []

    def items():
        nonlocal taken
        for item in range(200):
            taken += 1
            ahead.append(taken - consumed)
            yield item

    for result in ordered_map(lambda item: item, items(), threads=3, window_per_thread=per_thread):
        consumed += 1
        assert result == consumed - 1
    assert consumed == 200 and max(ahead) == 3 * per_thread


class CountingCache:
    """The README cache, recording which thread asked it."""

    def __init__(self, cache):
        self._cache, self.askers = cache, []

    def get(self, *args, **kwargs):
        self.askers.append(threading.current_thread())
        return self._cache.get(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._cache, name)


@pytest.fixture
def hub():
    with ReplicaHub(page_size=10, scale=60, seed=5) as replica:
        yield replica


def harvest(hub, cache) -> Harvest:
    extractor = Extractor(HubClient(hub.url, max_retries=1), cache, threads=4)
    return Harvest.collect(extractor.latest(N))


def test_a_warm_extract_reads_the_cache_in_its_own_thread_and_fetches_only_changed_readmes(
    hub, tmp_path
):
    cache = card_cache(tmp_path / "readmes", hub.url, tmp_path)
    cold = harvest(hub, cache)
    with_card = [
        m["modelId"] for m in cold.models if m["extraction_metadata"]["card_status"] == "ok"
    ]
    changed = hub.change_models(with_card[2:5])
    hub.reset_stats()

    counting = CountingCache(cache)
    warm = harvest(hub, counting)

    assert sorted(hub.stats()["readme_gets"]) == sorted(changed)
    assert len(counting.askers) == N  # each listed model's entry asked once, not again in the pool
    assert set(counting.askers) == {threading.current_thread()}
    warm_ids = [m["modelId"] for m in warm.models]  # in the listing's order: the changed first
    assert set(warm_ids[:3]) == set(changed)
    assert warm_ids[3:] == [m["modelId"] for m in cold.models if m["modelId"] not in changed]
    cold_by_id = {m["modelId"]: m for m in cold.models}
    for record in inline(warm.models, cache.store):
        model_id, before = record["modelId"], cold_by_id[record["modelId"]]
        assert (record["sha"] == before["sha"]) == (model_id not in changed)
        status = record["extraction_metadata"]["card_status"]
        assert status == before["extraction_metadata"]["card_status"]
        if model_id in changed:
            assert record["card"] == hub.catalogue.models[model_id].readme_text()
    assert sorted(f["model_id"] for f in warm.failures) == sorted(
        f["model_id"] for f in cold.failures
    )


def test_a_model_fetched_by_id_whose_files_hold_no_readme_costs_no_readme_request():
    """model_info asks for the file names, as the listing does: a recorded model whose repo
    holds no README.md (dbmdz's) gets no README request; one that lists it gets its README."""
    no_readme, with_readme = "dbmdz/bert-large-cased-finetuned-conll03-english", "gpt2"
    with ReplicaHub(scale=0) as replica:
        extractor = Extractor(HubClient(replica.url, max_retries=1), None, threads=2)
        got = Harvest.collect(extractor.by_ids([no_readme, with_readme], source="file"))
        asked = replica.stats()["readme_gets"]
    records = {record["modelId"]: record for record in got.models}
    assert set(records) == {no_readme, with_readme} and not got.failures
    assert asked == {with_readme: 1}
    assert records[no_readme]["extraction_metadata"]["card_status"] == "missing"
    assert records[no_readme]["extraction_metadata"]["card_source"] == "siblings"
    assert records[with_readme]["card"].startswith("---")
