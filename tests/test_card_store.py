"""The card store: README texts by SHA-256 under `<data_root>/store/cards`, written once, shared
by every model and run, checked on every read, and never trusted blindly."""

from __future__ import annotations

import hashlib
import json
import logging
import os

import pytest
from card_helpers import card_cache, card_store

from hfharvest.cards import CardStore, CardUnreadable, with_text
from hfharvest.hub import HubClient
from hfharvest.jsonio import artifact_writer
from hfharvest.replica import ReplicaHub
from hfharvest.stages.extract import Extractor, Harvest
from hfharvest.stages.identify import ROWS, ResultCache, identify_run

BERT = "google-bert/bert-base-uncased"


def harvest(hub: ReplicaHub, data_root, ids) -> tuple[Harvest, CardStore]:
    cache = card_cache(data_root / "cache" / "hf", hub.url, data_root)
    extractor = Extractor(HubClient(hub.url, max_retries=0), cache, threads=2)
    return Harvest.collect(extractor.by_ids(ids, source="file", unique=False)), cache.store


def blobs(store: CardStore) -> list:
    return sorted(p for p in store.root.rglob("*") if p.is_file())


def test_a_readme_is_stored_once_by_its_sha256_as_plain_text(shared_replica, tmp_path):
    result, store = harvest(shared_replica, tmp_path, [BERT])
    bert = result.models[0]
    real = shared_replica.catalogue.models[BERT].readme_text()
    digest = hashlib.sha256(real.encode()).hexdigest()
    assert bert["card_sha256"] == digest and "card" not in bert
    path = tmp_path / "store" / "cards" / digest[:2] / f"{digest}.md"
    assert blobs(store) == [path]
    assert path.read_bytes() == real.encode()  # the README itself, for any tool to open
    assert store.read(digest) == real


def test_identical_readmes_of_two_models_are_one_blob(shared_replica, tmp_path):
    # The snapshot's gpt2 and openai-community/gpt2 are two records with the same real card.
    ids = ["gpt2", "openai-community/gpt2"]
    result, store = harvest(shared_replica, tmp_path, ids)
    assert sorted(m["modelId"] for m in result.models) == ids
    digests = {m["card_sha256"] for m in result.models}
    assert len(digests) == 1 and None not in digests
    assert [p.stem for p in blobs(store)] == list(digests)


@pytest.mark.parametrize(
    "damage", ["edited", "truncated", "symlink", "too big", "removed", "not a digest"]
)
def test_a_damaged_blob_is_refused_on_read_never_served(tmp_path, damage):
    store = CardStore(tmp_path, readme_max_bytes=1024)
    text = "# A card\n\nSome text é.\n"
    digest = store.put(text)
    path = store.path(digest)
    reason = "tampered"
    if damage == "edited":
        path.write_text(text.replace("Some", "Other"))
    elif damage == "truncated":
        path.write_bytes(path.read_bytes()[:5])
    elif damage == "symlink":
        (tmp_path / "elsewhere.md").write_text(text)
        path.unlink()
        path.symlink_to(tmp_path / "elsewhere.md")
    elif damage == "too big":
        path.write_bytes(b"x" * (3 * 1024 + 1))  # over 3 x readme_max_bytes: damage
    elif damage == "removed":
        path.unlink()
        reason = "missing"
    if damage == "not a digest":
        with pytest.raises(ValueError):
            store.read("../" + digest[3:])
        return
    with pytest.raises(CardUnreadable) as raised:
        store.read(digest)
    assert raised.value.reason == reason
    if damage in ("edited", "truncated", "symlink"):
        assert not path.is_symlink() and not path.exists()  # removed, to be stored again
    assert (tmp_path / "elsewhere.md").exists() or damage != "symlink"  # never followed
    assert store.put(text) == digest and store.read(digest) == text


def test_a_blob_is_written_once_and_never_rewritten(tmp_path):
    store = CardStore(tmp_path, readme_max_bytes=1024)
    digest = store.put("same text")
    before = os.stat(store.path(digest))
    assert store.put("same text") == digest
    after = os.stat(store.path(digest))
    assert (before.st_ino, before.st_mtime_ns) == (after.st_ino, after.st_mtime_ns)
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{digest}.md"]


def test_an_unwritable_store_fails_loudly_not_silently(tmp_path):
    (tmp_path / "store").write_text("a file where the store should be\n")
    store = CardStore(tmp_path / "store" / "cards", readme_max_bytes=1024)
    with pytest.raises(OSError, match="card store"):
        store.put("text")


def test_a_blob_not_of_its_recorded_size_is_fetched_again(replica, tmp_path, caplog):
    first, store = harvest(replica, tmp_path, [BERT, "gpt2"])
    bert = next(m for m in first.models if m["modelId"] == BERT)
    path = store.path(bert["card_sha256"])
    path.write_text("# not the card the Hub gave\n")
    replica.reset_stats()
    with caplog.at_level(logging.WARNING):
        second, store = harvest(replica, tmp_path, [BERT, "gpt2"])
    assert replica.stats()["readme_gets"] == {BERT: 1}  # only the damaged one, once
    assert "not of its recorded size" in caplog.text
    again = next(m for m in second.models if m["modelId"] == BERT)
    assert again["card_sha256"] == bert["card_sha256"]
    assert store.read(again["card_sha256"]) == replica.catalogue.models[BERT].readme_text()


def test_a_cached_card_is_named_without_reading_it_and_its_first_reader_checks_it(
    replica, tmp_path, caplog
):
    """A warm harvest names cached cards by digest, one stat each; an edit that keeps the size
    is caught by the first reader, who removes the blob, and the next harvest fetches it."""
    first, store = harvest(replica, tmp_path, [BERT, "gpt2"])
    bert = next(m for m in first.models if m["modelId"] == BERT)
    path = store.path(bert["card_sha256"])
    size = path.stat().st_size
    path.write_bytes(b"#" * size)
    replica.reset_stats()
    second, store = harvest(replica, tmp_path, [BERT, "gpt2"])
    assert replica.stats()["readme_gets"] == {}
    assert [m["card_sha256"] for m in second.models] == [m["card_sha256"] for m in first.models]
    with caplog.at_level(logging.WARNING):
        record, problem = with_text(bert, store)
    assert record["card"] is None and problem.reason == "tampered"
    assert "does not match its digest" in caplog.text and not path.exists()
    third, store = harvest(replica, tmp_path, [BERT, "gpt2"])
    assert replica.stats()["readme_gets"] == {BERT: 1}
    assert store.read(bert["card_sha256"]) == replica.catalogue.models[BERT].readme_text()


def test_identify_reads_cards_by_digest_and_never_caches_an_answer_without_its_card(
    shared_replica, tmp_path, caplog
):
    result, store = harvest(shared_replica, tmp_path, [BERT])
    bert = result.models[0]
    # Identified from the card's text alone: its metadata names no base model.
    record = {"modelId": "someone/finetuned", "tags": [], "cardData": {}, "sha": "a" * 40}
    text = f"This model is a fine-tuned version of [{BERT}](https://huggingface.co/{BERT})."
    record["card_sha256"] = store.put(text)
    models = tmp_path / "models.json"
    with artifact_writer(models, "merge_models") as out:
        out.add([(bert, None), (record, None)])

    def run(name: str):
        outputs = {"mapping": str(tmp_path / f"{name}.json"),
                   "relations": str(tmp_path / f"{name}-rel.json")}  # fmt: skip
        cache = ResultCache(tmp_path / "identify", "https://example.org", ROWS)
        counts = identify_run({"base_models": outputs}, str(models), cache, store)
        return json.loads((tmp_path / f"{name}.json").read_text()), counts["base_models"]

    mapping, counts = run("cold")
    assert mapping["someone/finetuned"] == [BERT]  # the text, read from the store
    assert counts["cache_misses"] == 2 and "cards_unreadable" not in counts
    store.path(record["card_sha256"]).write_text("tampered")
    mapping, counts = run("warm")  # same digests: answered from the cache, no text read
    assert mapping["someone/finetuned"] == [BERT] and counts["cache_hits"] == 2

    (tmp_path / "identify").rename(tmp_path / "identify-old")  # a cold cache, a damaged blob
    with caplog.at_level(logging.WARNING):
        mapping, counts = run("damaged")
    assert mapping["someone/finetuned"] == [] and counts["cards_unreadable"] == 1
    assert "someone/finetuned" in caplog.text  # named, not silently empty
    store.put(text)  # stored again (as a later fetch does): answered again, right
    mapping, counts = run("repaired")
    assert mapping["someone/finetuned"] == [BERT] and counts["cache_misses"] == 1


def test_records_with_inline_text_or_none_are_read_as_they_are(tmp_path):
    store = card_store(tmp_path)
    assert with_text({"card": "inline"}, store) == ({"card": "inline"}, None)
    assert with_text({"card_sha256": None}, store) == ({"card_sha256": None}, None)
    record, problem = with_text({"modelId": "a/b", "card_sha256": "0" * 64}, store)
    assert record["card"] is None and problem.reason == "missing"
