"""Model-level incremental harvesting, counted in requests on the replica hub."""

from __future__ import annotations

import json

import pytest
from card_helpers import card_cache, inline

from hfharvest.hub import HubClient
from hfharvest.replica import ReplicaHub
from hfharvest.stages.extract import Extractor, Harvest

N = 60


@pytest.fixture
def hub():
    # Seed 0: two of the latest 60 synthetic models are gated (1 % of them are), both with cards.
    with ReplicaHub(page_size=100, scale=100, seed=0) as replica:
        yield replica


def harvest(hub, cache_dir, n=N, token=None) -> Harvest:
    """The latest `n`, their README texts read back from the card store into `card`."""
    cache = card_cache(cache_dir, hub.url)
    result = Harvest.collect(Extractor(HubClient(hub.url, token), cache, threads=4).latest(n))
    result.models = inline(result.models, cache.store)
    return result


def test_cold_run_costs_one_listing_page_and_one_readme_per_model(hub, tmp_path):
    result = harvest(hub, tmp_path)
    stats = hub.stats()
    assert len(result.models) == N
    assert stats["by_endpoint"]["list_models"] == 1
    assert stats["by_endpoint"]["resolve_get"] == N
    assert stats["total"] == N + 1


def test_rerun_without_hub_changes_asks_only_for_the_listing(hub, tmp_path):
    first = harvest(hub, tmp_path)
    hub.reset_stats()
    second = harvest(hub, tmp_path)
    # READMEs the Hub gave are cached, and so are gated refusals to a run without a token.
    gated = {
        m["modelId"] for m in first.models if m["extraction_metadata"]["card_status"] == "gated"
    }
    stats = hub.stats()
    assert gated and stats["readme_gets"] == {}
    assert stats["total"] == stats["by_endpoint"]["list_models"] == 1
    assert {
        m["modelId"] for m in second.models if m["extraction_metadata"]["card_status"] == "gated"
    } == gated
    strip = [{k: v for k, v in m.items() if k != "extraction_metadata"} for m in first.models]
    assert strip == [
        {k: v for k, v in m.items() if k != "extraction_metadata"} for m in second.models
    ]
    assert [f["reason"] for f in second.failures] == [f["reason"] for f in first.failures]


def test_changed_models_and_only_they_are_refetched(hub, tmp_path):
    first = harvest(hub, tmp_path)
    ungated = [
        m["modelId"] for m in first.models if m["extraction_metadata"]["card_status"] == "ok"
    ]
    changed = hub.change_models(ungated[5:8])
    hub.reset_stats()
    second = harvest(hub, tmp_path)
    assert sorted(hub.stats()["readme_gets"]) == sorted(changed)
    cards = {m["modelId"]: m["card"] for m in second.models}
    assert all(cards[model_id].rstrip().endswith("-->") for model_id in changed)


def test_a_gated_readme_is_asked_again_when_a_token_is_given(hub, tmp_path):
    harvest(hub, tmp_path)
    hub.reset_stats()
    with_token = harvest(hub, tmp_path, token="hf_dummy")
    gated = {m["modelId"] for m in with_token.models if m["gated"]}
    stats = hub.stats()
    assert gated and stats["by_endpoint"]["resolve_get"] == len(gated)  # only they are asked
    # Every gated README the replica holds comes back; Meta-Llama-3-70B-Instruct's card was not
    # found (hub_cards/index.json), so past the gate its answer is a 404.
    with_card = {m["modelId"] for m in with_token.models if m["gated"] and m["card"]}
    assert (
        set(stats["readme_gets"]) == with_card == gated - {"meta-llama/Meta-Llama-3-70B-Instruct"}
    )


@pytest.mark.parametrize(
    "damage",
    [
        lambda text: text[: len(text) // 2],  # cut short by a crash
        lambda text: text.replace('"sha256": "', '"sha256": "0', 1),  # checksum mismatch
        lambda text: "\x00\xff garbage",
    ],
)
def test_a_corrupt_cache_entry_is_detected_and_refetched(hub, tmp_path, damage):
    first = harvest(hub, tmp_path, n=5)
    victim = next(m for m in first.models if m["card"])
    cache = card_cache(tmp_path, hub.url)
    entry = cache._path(victim["modelId"], victim["sha"])
    entry.write_text(damage(entry.read_text()))
    hub.reset_stats()
    second = harvest(hub, tmp_path, n=5)
    assert hub.stats()["readme_gets"] == {victim["modelId"]: 1}
    assert (
        next(m for m in second.models if m["modelId"] == victim["modelId"])["card"]
        == victim["card"]
    )
    assert cache.store.read(json.loads(entry.read_text())["sha256"]) == victim["card"]


def test_cache_paths_never_leave_the_cache(tmp_path):
    cache = card_cache(tmp_path / "cache", "https://huggingface.co", tmp_path)
    for bad_id in ["../../etc/passwd", "/abs/path", "a/b/c"]:
        with pytest.raises(ValueError):
            cache.put(bad_id, "a" * 40, "x", False)
    with pytest.raises(ValueError):
        cache._path("org/name", "../../x")
    assert cache.get("org/name", "not-a-sha") is None
    assert not any(tmp_path.rglob("*.json")) and not any(tmp_path.rglob("*.md"))
