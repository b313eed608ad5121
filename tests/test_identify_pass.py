"""The identify job: one pass over the models serves every kind; the records the cache does not
answer, past the first few, go to worker processes, and the files are the same."""

from __future__ import annotations

import hashlib
import json
import marshal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import REPO, all_snapshot_records

from hfharvest.identify import KINDS
from hfharvest.jsonio import artifact_writer
from hfharvest.runconfig import endpoint_key
from hfharvest.stages import identify as identify_stage

EXTRAS = {"base_model_relations": "base_model_relations.json",
          "dataset_sources": "dataset_sources.json"}  # fmt: skip


def models_file(tmp_path):
    path = tmp_path / "models.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        for record in all_snapshot_records():  # the replica's recorded Hub bodies
            out.add_model({**record, "modelId": record["id"]})
    return str(path)


def outputs(folder) -> dict[str, str]:
    folder.mkdir()
    named = {kind: str(folder / f"{kind}.json") for kind in KINDS}
    return named | {name: str(folder / file) for name, file in EXTRAS.items()}


def config(data_root) -> dict:
    return {"data_root": str(data_root), "hf": {"cache": True},
            "hub": {"endpoint": "https://huggingface.co"}}  # fmt: skip


class Windows:
    """identify's ForkedWindow, counting the windows opened and the answers from workers."""

    def __init__(self, monkeypatch):
        self.opened = self.answers = 0
        windows = self

        class Counted(identify_stage.ForkedWindow):
            def __init__(self, *args):
                windows.opened += 1
                super().__init__(*args)

            def _finished(self):
                for done in super()._finished():
                    windows.answers += 1
                    yield done

        monkeypatch.setattr(identify_stage, "ForkedWindow", Counted)


def test_workers_write_what_one_pass_writes(tmp_path, monkeypatch):
    models = models_file(tmp_path)
    one = outputs(tmp_path / "one")
    counts = identify_stage.identify_all(
        identify_stage.kind_outputs(one, list(KINDS)), models, config(tmp_path / "a")
    )
    assert set(counts) == set(KINDS)
    records = len(all_snapshot_records())
    assert all(c["models"] == records and c["cache_misses"] == records for c in counts.values())
    licenses = json.loads((tmp_path / "one/licenses.json").read_text())
    assert licenses["google/flan-t5-large"] == ["Apache-2.0"]

    windows = Windows(monkeypatch)
    monkeypatch.setattr(identify_stage, "INLINE_MISSES", 5)  # then the rest to the workers
    three = outputs(tmp_path / "three")
    in_workers = identify_stage.identify_all(
        identify_stage.kind_outputs(three, list(KINDS)), models, config(tmp_path / "b"), 3
    )
    assert (windows.opened, windows.answers) == (1, records - 5)
    assert in_workers == counts
    for name, path in one.items():
        assert Path(path).read_bytes() == Path(three[name]).read_bytes(), name


def test_a_warm_pass_starts_no_worker(tmp_path, monkeypatch):
    """Every record answered by the cache: one parse in the job, no worker forked."""
    models, data_root = models_file(tmp_path), tmp_path / "data"
    windows = Windows(monkeypatch)
    monkeypatch.setattr(identify_stage, "INLINE_MISSES", 0)
    cold, warm = outputs(tmp_path / "cold"), outputs(tmp_path / "warm")
    identify_stage.identify_all(identify_stage.kind_outputs(cold, list(KINDS)), models,
                                config(data_root), 3)  # fmt: skip
    assert windows.opened == 1
    counts = identify_stage.identify_all(identify_stage.kind_outputs(warm, list(KINDS)), models,
                                         config(data_root), 3)  # fmt: skip
    assert windows.opened == 1
    assert {c["cache_misses"] for c in counts.values()} == {0}
    for name, path in cold.items():
        assert Path(path).read_bytes() == Path(warm[name]).read_bytes(), name


# The identify job as Snakemake runs it (tests/script_job.py), every record sent to the workers,
# and the processes that answered recorded.
JOB = """
import json, os, sys
sys.path.insert(0, sys.argv[2])
from script_job import run_script
from hfharvest.stages import identify

identify.INLINE_MISSES = 0
spec = json.loads(sys.argv[1])

class Recorded(identify.ForkedWindow):
    def close(self):
        workers = sorted(self._peaks)
        super().close()
        with open(spec["workers"], "a") as out:
            out.write(json.dumps({"job": os.getpid(), "workers": workers}) + "\\n")

identify.ForkedWindow = Recorded
run_script(spec)
"""


def test_the_job_s_workers_run_the_kinds_not_the_script(tmp_path):
    """Workers started by re-running `__main__` (spawn) would run the whole job again in each."""
    models, job = models_file(tmp_path), tmp_path / "job.py"
    job.write_text(JOB)
    named, log, workers = outputs(tmp_path / "job"), tmp_path / "identify.log", tmp_path / "pids"
    spec = {"script": str(REPO / "scripts" / "identify.py"), "input": {"models": models},
            "output": named, "log": str(log), "params": {"kinds": list(KINDS)},
            "config": config(tmp_path / "data"), "threads": 3, "workers": str(workers)}  # fmt: skip
    done = subprocess.run([sys.executable, str(job), json.dumps(spec), str(REPO / "tests")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    [window] = [json.loads(line) for line in workers.read_text().splitlines()]  # once, in the job
    assert 1 <= len(window["workers"]) <= 3 and window["job"] not in window["workers"]
    lines = log.read_text().splitlines()
    assert all(any(f"identify {kind}: " in line for line in lines) for kind in KINDS)
    assert "job resources:" in lines[-1] and sum("job resources:" in x for x in lines) == 1
    one = outputs(tmp_path / "one")
    identify_stage.identify_all(identify_stage.kind_outputs(one, list(KINDS)), models,
                                config(tmp_path / "other"))  # fmt: skip
    for name, path in one.items():
        assert Path(path).read_bytes() == Path(named[name]).read_bytes(), name


def test_the_digest_covers_each_field_kind_and_code_version():
    """The fields are serialised once per record for every kind (marshal): the digest is of
    them, the kind and the code version, and any field read changing makes another."""
    record = {**all_snapshot_records()[0], "card_sha256": "ab" * 32}
    digests = {identify_stage.record_digest(kind, record) for kind in KINDS}
    assert len(digests) == len(KINDS)
    fields = marshal.dumps([record.get(key) for key in identify_stage.FIELDS], 2)
    version = identify_stage.code_version()
    assert (
        identify_stage.record_digest("keywords", record)
        == hashlib.sha256(f"keywords\0{version}\0".encode() + fields).hexdigest()
    )
    for key in identify_stage.FIELDS:
        changed = {**record, key: [record.get(key)]}
        assert identify_stage.record_digest("keywords", changed) not in digests, key
    assert identify_stage.record_digest("keywords", {**record, "downloads": 7}) in digests
    # 1 and 1.0, True and 1 are told apart, as JSON tells them
    assert len({identify_stage.record_digest("keywords", {"tags": v}) for v in (1, 1.0, True)}) == 3


def _another_job_writes(root, endpoint: str, kind: str, key: str, value):
    """One entry written to the cache by another job (a connection of its own, in a thread of
    its own), started; and the list that gets whether that writer kept its cache."""
    kept = []

    def write():
        writer = identify_stage.ResultCache(root, endpoint, kind)
        writer.put(key, value)
        writer.flush()
        kept.append(writer._db is not None)
        writer.close()

    thread = threading.Thread(target=write)
    thread.start()
    return thread, kept


def test_a_reading_run_holds_off_another_runs_cache_writes_only_for_a_bounded_number_of_reads(
    tmp_path, monkeypatch
):
    """Lookups share read transactions (one per SELECT cost SQLite a lock each time); another
    run writing the same cache waits at most for one transaction's reads, and keeps its cache."""
    monkeypatch.setattr(identify_stage, "_READS_PER_TRANSACTION", 50)
    endpoint = "https://huggingface.co"
    first = identify_stage.ResultCache(tmp_path, endpoint, "licenses")
    for i in range(10):
        first.put(f"d{i}", [f"license-{i}"])
    first.close()

    reader = identify_stage.ResultCache(tmp_path, endpoint, "licenses")
    assert reader.get("d1") == ["license-1"]  # the reader now holds a read transaction
    writing, stayed_on = _another_job_writes(tmp_path, endpoint, "licenses", "new", ["mit"])
    writing.join(0.5)
    assert writing.is_alive()  # held off by the reader's open transaction...
    for _ in range(60):  # ...until the reader's bounded transaction ends
        assert reader.get("d2") == ["license-2"]
    writing.join(30)
    assert not writing.is_alive()
    assert stayed_on == [True]
    assert [reader.get(f"d{i}") for i in range(10)] == [[f"license-{i}"] for i in range(10)]
    assert reader.get("new") == ["mit"]
    reader.close()
    assert (reader.hits, reader.misses) == (72, 0)


TWICE = {"modelId": "org/twice", "tags": ["dataset:squad", "base_model:finetune:org/base"]}
AGAIN = {"modelId": "org/twice", "tags": ["dataset:imdb", "dataset:squad",
                                          "base_model:adapter:org/base"]}  # fmt: skip
OTHER = {"modelId": "aaa/first-by-id", "tags": ["dataset:glue"]}


def _twice(tmp_path, records, name: str, cache, workers: int = 1) -> None:
    path = tmp_path / f"{name}.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        for record in records:
            out.add_model(record)
    named = outputs(tmp_path / name)
    kinds = ["datasets", "base_models"]
    identify_stage.identify_run(
        identify_stage.kind_outputs(named, kinds), str(path), cache, workers=workers
    )


def _assert_union_and_first_relation(folder) -> None:
    datasets = (folder / "datasets.json").read_text()
    assert json.loads(datasets) == {"aaa/first-by-id": ["glue"], "org/twice": ["imdb", "squad"]}
    assert datasets.index("aaa/first-by-id") < datasets.index("org/twice")  # sorted by model id
    relations = json.loads((folder / "base_model_relations.json").read_text())
    assert list(relations["org/twice"]) == ["org/base"]
    assert relations["org/twice"]["org/base"]["relation"] == "finetune"  # the first one met
    assert json.loads((folder / "base_models.json").read_text())["org/twice"] == ["org/base"]


def test_a_model_listed_twice_gets_the_union_of_its_entities_and_its_first_relation(tmp_path):
    """Each model's ids are kept as one row and sorted on the way out; a model id met twice
    (an id file listing it twice, before merge) is not lost or doubled."""
    _twice(tmp_path, [TWICE, OTHER, AGAIN], "out", identify_stage.ResultCache(None, "x", "rows"))
    _assert_union_and_first_relation(tmp_path / "out")


def test_rows_answered_by_workers_keep_their_place_in_the_file(tmp_path, monkeypatch):
    """The first record of a model listed twice answered by a worker after its second, a cache
    hit, was added: its relation still comes first."""

    def cache():
        return identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS)

    _twice(tmp_path, [AGAIN], "again", cache())  # now a hit
    windows = Windows(monkeypatch)
    monkeypatch.setattr(identify_stage, "INLINE_MISSES", 0)
    _twice(tmp_path, [TWICE, OTHER, AGAIN], "out", cache(), workers=2)
    assert windows.answers == 2  # TWICE and OTHER
    _assert_union_and_first_relation(tmp_path / "out")


def test_a_model_naming_more_datasets_or_articles_than_the_cap_keeps_the_first_ones(
    tmp_path, caplog
):
    """One card naming 100 000 datasets would cost enrich 100 000 `dataset_info` requests: a
    model keeps `hf.max_entities_per_model` of its datasets and articles, with a warning; other
    kinds (languages: some speech models list over 1 000) are not cut."""
    path = tmp_path / "models.json"
    many = {"modelId": "hostile/many",
            "cardData": {"datasets": [f"org/set-{i:05d}" for i in range(2_500)],
                         "language": ["en", "fr", "de", "es"]},
            "tags": [f"arxiv:2101.{i:05d}" for i in range(1_200)]}  # fmt: skip
    few = {"modelId": "plain/few", "tags": ["dataset:squad", "arxiv:1810.04805"]}
    with artifact_writer(path, "add_ancestor_models") as out:
        out.add_model(many)
        out.add_model(few)
    kinds = ["datasets", "articles", "languages"]
    counts = identify_stage.identify_run(
        identify_stage.kind_outputs(outputs(tmp_path / "out"), kinds),
        str(path),
        identify_stage.ResultCache(None, "x", identify_stage.ROWS),
        max_per_model=3,  # fewer than the model's four languages
    )
    datasets = json.loads((tmp_path / "out/datasets.json").read_text())
    articles = json.loads((tmp_path / "out/articles.json").read_text())
    assert datasets["hostile/many"] == ["org/set-00000", "org/set-00001", "org/set-00002"]
    assert articles["hostile/many"] == ["arxiv:2101.00000", "arxiv:2101.00001", "arxiv:2101.00002"]
    assert datasets["plain/few"] == ["squad"] and articles["plain/few"] == ["arxiv:1810.04805"]
    languages = json.loads((tmp_path / "out/languages.json").read_text())
    assert languages["hostile/many"] == ["de", "en", "es", "fr"]
    assert counts["datasets"]["models_capped"] == counts["articles"]["models_capped"] == 1
    assert "hostile/many: 2500 datasets named, the first 3 kept" in caplog.text


def test_a_cached_entry_not_in_the_cached_form_is_a_miss(tmp_path):
    """An entry a kind's texts are missing from, or not the list cached_texts gives, is
    identified again (and replaced), never written as it is."""
    path = tmp_path / "models.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        out.add_model(OTHER)
    cache = identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS)
    digest = identify_stage.record_digest(identify_stage.ROWS, OTHER)
    cache.put(digest, {"datasets": ['["forged"]'], "licenses": '["MIT"]'})  # widths 2 and 1
    cache.close()
    kinds = ["datasets", "licenses", "tasks"]
    named = outputs(tmp_path / "out")

    def run():
        return identify_stage.identify_run(
            identify_stage.kind_outputs(named, kinds), str(path),
            identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS),
        )  # fmt: skip

    assert {kind: c["cache_misses"] for kind, c in run().items()} == dict.fromkeys(kinds, 1)
    assert json.loads(Path(named["datasets"]).read_text()) == {"aaa/first-by-id": ["glue"]}
    assert json.loads(Path(named["licenses"]).read_text()) == {"aaa/first-by-id": []}
    assert {kind: c["cache_hits"] for kind, c in run().items()} == dict.fromkeys(kinds, 1)


@pytest.mark.parametrize("texts", [['["MIT"'], ['"MIT"'], ['["MIT"], ["GPL"]'], [7]])
def test_a_cached_entry_whose_texts_are_not_json_is_a_miss(tmp_path, texts):
    """Cached texts go to the files as they are: one that is not a JSON array or object (torn,
    a bare string, two values, not text) would make the identified file unreadable; the whole
    entry is identified again instead."""
    path = tmp_path / "models.json"
    with artifact_writer(path, "add_ancestor_models") as out:
        out.add_model(OTHER)
    cache = identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS)
    digest = identify_stage.record_digest(identify_stage.ROWS, OTHER)
    cache.put(digest, {"licenses": texts, "tasks": ["[]"]})
    cache.close()
    named = outputs(tmp_path / "out")
    counts = identify_stage.identify_run(
        identify_stage.kind_outputs(named, ["licenses", "tasks"]), str(path),
        identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS),
    )  # fmt: skip
    assert counts["licenses"]["cache_misses"] == counts["tasks"]["cache_misses"] == 1
    assert json.loads(Path(named["licenses"]).read_text()) == {"aaa/first-by-id": []}


def test_the_per_kind_caches_the_rows_cache_replaced_are_removed(tmp_path):
    """Earlier versions kept one database a kind (31 MB at 20 000 models): the rows cache
    removes them as it opens, and keeps what is not theirs (another cache, a link, a folder)."""
    folder = tmp_path / "cache" / endpoint_key("x")[0]
    folder.mkdir(parents=True)
    for name in ("datasets.sqlite", "tasks.sqlite", "tasks.sqlite-journal"):
        (folder / name).write_bytes(b"old")
    (folder / "stated_base_models.sqlite").write_bytes(b"ancestors' cache")
    (tmp_path / "outside").write_bytes(b"not the cache's")
    (folder / "licenses.sqlite").symlink_to(tmp_path / "outside")
    (folder / "keywords.sqlite").mkdir()
    identify_stage.ResultCache(tmp_path / "cache", "x", identify_stage.ROWS)._db.close()
    left = sorted(path.name for path in folder.iterdir())
    assert left == ["ENDPOINT", "keywords.sqlite", "licenses.sqlite", "rows.sqlite",
                    "stated_base_models.sqlite"]  # fmt: skip
    assert (tmp_path / "outside").read_bytes() == b"not the cache's"


def _ahead(outcomes, data_root, limit=None) -> list:
    return list(identify_stage.identify_ahead(iter(outcomes), config(data_root), limit))


def test_models_identified_ahead_are_hits_for_the_job_which_writes_what_a_cold_job_writes(
    tmp_path,
):
    """identify_ahead (on a by-id fetch's outcomes) caches what the identify job would compute:
    the job answers every record from the cache, and its files are a cold job's, byte for byte.
    The outcomes pass as they came, failures and all."""
    models, data_root = models_file(tmp_path), tmp_path / "data"
    failure = {"model_id": "gone/model", "reason": "not_found", "message": "404"}
    outcomes = [*(({**r, "modelId": r["id"]}, None) for r in all_snapshot_records()),
                (None, failure)]  # fmt: skip
    assert _ahead(outcomes, data_root) == outcomes
    ahead, cold = outputs(tmp_path / "ahead"), outputs(tmp_path / "cold")
    counts = identify_stage.identify_all(identify_stage.kind_outputs(ahead, list(KINDS)), models,
                                         config(data_root))  # fmt: skip
    assert {kind: c["cache_misses"] for kind, c in counts.items()} == dict.fromkeys(KINDS, 0)
    identify_stage.identify_all(identify_stage.kind_outputs(cold, list(KINDS)), models,
                                config(tmp_path / "cold-data"))  # fmt: skip
    for name, path in cold.items():
        assert Path(path).read_bytes() == Path(ahead[name]).read_bytes(), name


def test_identify_ahead_takes_the_first_records_only_and_nothing_without_the_cache(tmp_path):
    """Bounded: past `limit` records the fetch identifies nothing (the job's workers do, in
    parallel); with `hf.cache: false` there is no cache to fill, and none is made."""
    models, data_root = models_file(tmp_path), tmp_path / "data"
    outcomes = [({**r, "modelId": r["id"]}, None) for r in all_snapshot_records()]
    _ahead(outcomes, data_root, limit=3)
    counts = identify_stage.identify_all(
        identify_stage.kind_outputs(outputs(tmp_path / "out"), list(KINDS)), models,
        config(data_root),
    )  # fmt: skip
    assert {c["cache_misses"] for c in counts.values()} == {len(outcomes) - 3}
    off = {**config(tmp_path / "off"), "hf": {"cache": False}}
    assert list(identify_stage.identify_ahead(iter(outcomes), off)) == outcomes
    assert not (tmp_path / "off").exists()


def test_identify_ahead_holds_off_no_other_job_s_writes_while_it_waits_for_the_hub(tmp_path):
    """Between two outcomes a fetch waits on the Hub, for seconds: its lookups must not keep a
    read transaction open meanwhile, or another shard's job could not write its cache."""
    data_root = tmp_path / "data"
    outcomes = [({**r, "modelId": r["id"]}, None) for r in all_snapshot_records()[:2]]
    ahead = identify_stage.identify_ahead(iter(outcomes), config(data_root))
    assert next(ahead) == outcomes[0]  # looked up, identified; now "waiting for the Hub"
    writing, wrote = _another_job_writes(
        data_root / "cache" / "identify", "https://huggingface.co", identify_stage.ROWS,
        "another job's digest", {"licenses": ["[]"]},
    )  # fmt: skip
    writing.join(10)
    still_waiting = writing.is_alive()
    assert list(ahead) == outcomes[1:]
    writing.join()
    assert not still_waiting and wrote == [True]


def test_a_model_that_cannot_be_identified_ahead_leaves_the_fetch_going(
    tmp_path, monkeypatch, caplog
):
    """The work ahead is an optimisation: an identifier that fails on a record is a warning in
    the fetch, which writes its outcomes as ever; the identify job meets that record as a miss."""
    models, data_root = models_file(tmp_path), tmp_path / "data"
    outcomes = [({**r, "modelId": r["id"]}, None) for r in all_snapshot_records()]
    broken = outcomes[1][0]["modelId"]
    identify = identify_stage.per_model

    def per_model(kind, record):
        if record["modelId"] == broken:
            raise KeyError("an identifier's bug")
        return identify(kind, record)

    monkeypatch.setattr(identify_stage, "per_model", per_model)
    assert _ahead(outcomes, data_root) == outcomes
    assert f"{broken}: not identified ahead (KeyError" in caplog.text
    monkeypatch.setattr(identify_stage, "per_model", identify)
    counts = identify_stage.identify_all(
        identify_stage.kind_outputs(outputs(tmp_path / "out"), list(KINDS)), models,
        config(data_root),
    )  # fmt: skip
    assert {c["cache_misses"] for c in counts.values()} == {1}
