"""Caches never cross endpoints, never hold a refused README, never stop a run, and never follow
what someone planted in them (symlinks, FIFOs, a symlinked owner folder)."""

from __future__ import annotations

import logging
import os
import shutil

import pytest
from card_helpers import card_cache, inline

from hfharvest.cache import RecordCache
from hfharvest.hub import HubClient
from hfharvest.replica import ReplicaHub
from hfharvest.runconfig import cache_endpoint, endpoint_key
from hfharvest.stages.extract import Extractor, Harvest

FILE_IDS = ["google-bert/bert-base-uncased", "gpt2", "facebook/bart-base"]


def latest(hub: ReplicaHub, cache_root, n: int = 6, data_root=None) -> Harvest:
    """The latest `n` with their README texts inline, read back from the card store."""
    cache = card_cache(cache_root, hub.url, data_root)
    harvest = Harvest.collect(Extractor(HubClient(hub.url), cache, threads=2).latest(n))
    harvest.models = inline(harvest.models, cache.store)
    return harvest


def by_ids(hub: ReplicaHub, records_root) -> Harvest:
    extractor = Extractor(HubClient(hub.url), None, threads=2,
                          records=RecordCache(records_root, hub.url))  # fmt: skip
    return Harvest.collect(extractor.by_ids(FILE_IDS, source="file"))


def test_one_endpoints_readmes_are_never_served_for_another(tmp_path):
    with ReplicaHub(page_size=10) as demo, ReplicaHub(page_size=10) as real:
        first = latest(demo, tmp_path)
        asked = {
            m["modelId"] for m in first.models if m["extraction_metadata"]["card_status"] == "ok"
        }
        second = latest(real, tmp_path)  # same data root, other endpoint
        assert set(real.stats()["readme_gets"]) == asked  # every README asked of its own hub
    assert [m["card"] for m in second.models] == [m["card"] for m in first.models]
    folders = sorted((tmp_path / "readmes").iterdir())
    assert len(folders) == 2
    assert sorted((f / "ENDPOINT").read_text().strip() for f in folders) == sorted(
        [demo.url, real.url]
    )


def test_endpoint_keys_normalise_the_origin_and_keep_the_path():
    assert endpoint_key("HTTPS://HuggingFace.co:443/")[1] == "https://huggingface.co"
    assert endpoint_key("https://huggingface.co")[0] == endpoint_key("https://huggingface.co/")[0]
    assert endpoint_key("https://mirror.example/hf")[0] != endpoint_key("https://mirror.example")[0]
    demo = {"hub": {"endpoint": "replica"}, "replica": {"scale": 100, "seed": 0}}
    other_seed = {"hub": {"endpoint": "replica"}, "replica": {"scale": 100, "seed": 1}}
    keys = {endpoint_key(cache_endpoint(c))[0] for c in (demo, other_seed)}
    assert len(keys | {endpoint_key("https://huggingface.co")[0]}) == 3


def test_the_run_record_cache_is_not_reused_when_the_endpoint_changes(tmp_path):
    with ReplicaHub(page_size=10) as one, ReplicaHub(page_size=10) as other:
        by_ids(one, tmp_path)
        one.reset_stats()
        again = by_ids(one, tmp_path)  # same endpoint: the run's records are reused
        assert one.stats()["total"] == 0 and len(again.models) == 3
        moved = by_ids(other, tmp_path)  # endpoint changed: every model asked anew
        assert set(other.stats()["model_info_gets"]) == set(FILE_IDS)
    assert len(moved.models) == 3


def test_a_gated_refusal_is_cached_for_runs_without_a_token_only(tmp_path):
    with ReplicaHub(page_size=10) as hub:
        gated = "meta-llama/Llama-3.1-8B-Instruct"
        cache = card_cache(tmp_path, hub.url)
        anonymous = Extractor(HubClient(hub.url), cache, threads=1)
        for _ in range(2):
            record, failure = anonymous.fetch(gated, source="file")
            assert failure["reason"] == "gated" and record["card_sha256"] is None
        assert hub.stats()["by_status"]["401"] == 1  # without a token the answer cannot change
        entry = cache._path(gated, record["sha"])
        assert '"refused": "gated"' in entry.read_text() and '"sha256": null' in entry.read_text()
        hub.reset_stats()
        with_token = Extractor(HubClient(hub.url, "hf_dummy"), card_cache(tmp_path, hub.url))
        record, failure = with_token.fetch(gated, source="file")
        assert hub.stats()["readme_gets"] == {gated: 1}  # a token may open it: asked again
        assert failure is None and cache.store.read(record["card_sha256"])


def test_an_unwritable_cache_is_a_warning_and_the_run_goes_on(tmp_path, caplog):
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be\n")
    with ReplicaHub(page_size=10) as hub, caplog.at_level(logging.WARNING):
        harvest = latest(hub, blocked / "hf", data_root=tmp_path)  # the store is writable
        assert hub.stats()["by_endpoint"]["resolve_get"] == 6
        uncached = Harvest.collect(Extractor(HubClient(hub.url), None, threads=2).latest(6))
    assert [m["card"] for m in harvest.models] == [m["card"] for m in uncached.models]
    assert len(harvest.models) == 6 and any(m["card"] for m in harvest.models)
    warnings = [r for r in caplog.records if "cannot be written" in r.getMessage()]
    assert len(warnings) == 1 and getattr(warnings[0], "console", False)
    assert blocked.read_text().startswith("a file")


@pytest.mark.parametrize("plant", ["symlink to /dev/zero", "fifo", "owner folder symlink"])
def test_planted_entries_are_never_followed(tmp_path, plant, caplog):
    root, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    with ReplicaHub(page_size=10) as hub:
        first = latest(hub, root)
        victim = next(m for m in first.models if m["card"] and "/" in m["modelId"])
        entry = card_cache(root, hub.url)._path(victim["modelId"], victim["sha"])
        if plant == "symlink to /dev/zero":
            entry.unlink()
            entry.symlink_to("/dev/zero")
        elif plant == "fifo":
            entry.unlink()
            os.mkfifo(entry)
        else:  # the owner's folder points outside the cache, holding a copy of the entry
            owner = entry.parent.parent
            (outside / entry.parent.name).mkdir()
            (outside / entry.parent.name / entry.name).write_text(entry.read_text())
            for path in sorted(owner.rglob("*"), reverse=True):
                path.rmdir() if path.is_dir() else path.unlink()
            owner.rmdir()
            owner.symlink_to(outside, target_is_directory=True)
        hub.reset_stats()
        with caplog.at_level(logging.WARNING):
            second = latest(hub, root)  # must not hang on the FIFO, nor read /dev/zero
        refetched = {victim["modelId"]}
        if plant == "owner folder symlink":  # nothing under the planted folder is trusted
            owner = victim["modelId"].split("/")[0]
            refetched = {m["modelId"] for m in first.models if m["modelId"].startswith(f"{owner}/")}
        assert hub.stats()["readme_gets"] == dict.fromkeys(refetched, 1)
    cards = {m["modelId"]: m["card"] for m in second.models}
    assert cards[victim["modelId"]] == victim["card"]
    said = "not a real folder" if plant == "owner folder symlink" else "not a regular file"
    assert any(said in r.getMessage() for r in caplog.records)  # refused, not read and failed
    if plant == "owner folder symlink":
        assert sorted(p.name for p in outside.rglob("*")) == [entry.parent.name, entry.name]
        assert entry.parent.parent.is_symlink()  # left alone, written through never
    else:
        assert entry.is_file() and not entry.is_symlink()  # replaced by a real entry


def test_a_new_replica_snapshot_is_a_new_hub_for_params_and_caches(tmp_path):
    import shutil

    from hfharvest.runconfig import (
        REPLICA_PACKAGE,
        folder_digest,
        harvest_source,
        replica_fingerprint,
    )

    copy = tmp_path / "replica"
    shutil.copytree(REPLICA_PACKAGE / "hub_snapshot", copy / "hub_snapshot")
    before = folder_digest(copy)
    card = next((copy / "hub_snapshot" / "hub_cards").glob("*.md"))
    card.write_text(card.read_text() + "\nedited\n")
    assert folder_digest(copy) != before
    config = {"hub": {"endpoint": "replica"}, "replica": {"scale": 0, "seed": 0}}
    assert harvest_source(config)["replica"]["catalogue"] == replica_fingerprint()
    assert replica_fingerprint() in cache_endpoint(config)


def test_a_live_cache_whose_folder_is_removed_or_swapped_starts_again_and_never_follows(
    tmp_path, caplog
):
    """A cache keeps its endpoint folder open (one walk, not one per entry); removed under a
    running job, it is made again; swapped for a symlink, nothing is read or written through it."""
    sha, root, outside = "a" * 40, tmp_path / "cache", tmp_path / "outside"
    cache = card_cache(root, "https://huggingface.co")
    cache.put("org/model", sha, "# card", False)
    base = cache._path("org/model", sha).parents[2]  # readmes/<endpoint>: the folder kept open
    assert cache.get("org/model", sha).text == "# card"
    assert cache.get("org/other", sha) is None  # an absent owner folder is a miss, not a reset
    shutil.rmtree(base)
    assert cache.get("org/model", sha) is None
    cache.put("org/model", sha, "# card again", False)
    assert cache.get("org/model", sha).text == "# card again"
    assert cache._path("org/model", sha).is_file()  # made again where it belongs

    shutil.copytree(base, outside)
    shutil.rmtree(base)
    base.symlink_to(outside, target_is_directory=True)
    with caplog.at_level(logging.WARNING):
        assert cache.get("org/model", sha) is None  # the copy outside is never read
        cache.put("org/new", sha, "# new", False)
    assert {p.name for p in outside.rglob("*")} == {"org", "model", f"{sha}.json"}  # untouched
    assert any("not a real folder" in r.getMessage() for r in caplog.records)
