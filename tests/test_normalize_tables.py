"""normalize_tables on small synthetic run folders: the rows it writes are those each model's own
lookups give (the stage's former per-model path), cold or from the row cache, after models
changed, moved, came and went; the cache reuses only what is unchanged and never a damaged entry.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from loaded_modules import loaded_modules, uncovered
from whole_lookups import load_lookups

from hfharvest.entities import KINDS
from hfharvest.normalize import TABLES
from hfharvest.normalize.inputs import ENTITY_FILES, RunInputs
from hfharvest.normalize.stage import normalize_tables
from hfharvest.normalize.table_cache import MODEL_TABLES, TABLE_CODE, TableCache, ends_block
from hfharvest.normalize.tables import SCHEMAS, _digest, _model_rows, _Rows

ENDPOINT = "http://hub.example"


def model(i: int, **changes) -> dict:
    record = {
        "modelId": f"org{i % 7}/m{i}",
        "author": f"org{i % 7}",
        "sha": f"{i:040x}",
        "createdAt": "2024-01-02T03:04:05Z",
        "downloads": i * 10,
        "likes": i % 5,
        "pipeline_tag": "text-generation" if i % 2 else "fill-mask",
        "tags": [f"kw{i % 4}", f"arxiv:2101.{i:05d}", f"dataset:d{i % 9}", "license:mit"],
        "cardData": {"datasets": [f"d{i % 9}"]} if i % 3 else {"license": "mit"},
        "gated": "auto" if i % 11 == 0 else False,
        "safetensors": {"total": i * 1000},
        "ancestry": {"depth": i % 2},
        "extraction_metadata": {"source": "latest", "card_status": "ok", "extracted_at": "now"},
    }
    return record | changes


def write_run(folder: Path, records: list[dict], shuffled_ids: bool = False) -> RunInputs:
    """A run folder of `records`, their identify files (sorted by model id, as the stage writes
    them, unless `shuffled_ids`) and empty enrich outputs."""
    (folder / "identified").mkdir(parents=True, exist_ok=True)
    (folder / "hf_models_with_ancestors.json").write_text(
        json.dumps({"stage": "add_ancestor_models", "models": records, "failures": []})
    )
    ids = sorted(r["modelId"] for r in records)
    if shuffled_ids:
        ids = ids[1::2] + ids[::2]
    by_id = {r["modelId"]: r for r in records}
    files = {kind: {} for kind in (*KINDS, "base_model_relations", "dataset_sources")}
    files["identifiers"] = {}
    for model_id in ids:
        n = int(model_id.rpartition("m")[2])
        record = by_id[model_id]
        files["datasets"][model_id] = [f"d{n % 9}"]
        files["dataset_sources"][model_id] = {f"d{n % 9}": "card_text" if n % 4 else "metadata"}
        files["articles"][model_id] = [f"arxiv:2101.{n:05d}"] + (["doi:10.1/x"] if n % 5 else [])
        files["keywords"][model_id] = [t for t in record["tags"] if t.startswith("kw")]
        files["licenses"][model_id] = ["mit"]
        files["languages"][model_id] = ["en", "fr"][: n % 3]
        files["tasks"][model_id] = [record["pipeline_tag"]]
        bases = {f"org0/m{n - 1}": {"relation": "finetune", "source": "metadata"}} if n % 2 else {}
        if n % 6 == 1:
            bases[f"org1/m{n - 2}"] = "adapter"  # a plain relation string: read as metadata
        files["base_models"][model_id] = sorted(bases)
        files["base_model_relations"][model_id] = bases
        if n % 8:  # a model without an entry takes its Hub URL and articles instead
            doi = ["doi:10.57967/hf/1"] if n % 10 == 0 else []
            files["identifiers"][model_id] = [*doi, f"https://huggingface.co/{model_id}"]
    for name, mapping in files.items():
        (folder / "identified" / f"{name}.json").write_text(json.dumps(mapping))
    for name in ENTITY_FILES.values():
        (folder / name).write_text("[]")
    return RunInputs.from_folder(folder)


def expected(inputs: RunInputs, run_id: str) -> dict[str, list[dict]]:
    """The model tables' rows as the stage made them before the cache: each model's rows from
    the run's whole lookups."""
    lookups = load_lookups(inputs, max_chars=0, entities=False)
    rows = {name: _Rows(SCHEMAS[name]) for name in MODEL_TABLES}
    for record in inputs.iter_models():
        _model_rows(record, lookups, rows, run_id)
    return {name: rows[name].table().to_pylist() for name in MODEL_TABLES}


def tables(folder: Path) -> dict[str, pa.Table]:
    return {name: pq.read_table(folder / f"{name}.parquet") for name in TABLES}


def run_tables(inputs, out: Path, run_id: str, cache=None, batch_rows: int = 100):
    counts = normalize_tables(inputs, out, run_id, batch_rows, cache)
    written = tables(out)
    assert counts == {name: table.num_rows for name, table in written.items()}
    for name in MODEL_TABLES:
        assert written[name].to_pylist() == expected(inputs, run_id)[name], name
    return written


def test_warm_rows_come_from_the_cache_and_equal_a_run_without_it(tmp_path):
    """A warm run after 5 models changed, 5 moved to the front (the listing's order), 4 came
    and 3 went: the tables are those the lookups give, and those of a run without the cache;
    only the rows of models whose inputs changed, and some of their blocks, are made again."""
    records = [model(i) for i in range(400)]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    cold = run_tables(write_run(tmp_path / "cold", records), tmp_path / "t1", "cold", cache)
    assert (cache.hits, cache.misses) == (0, 400)
    assert cold["models"].column("run_id").to_pylist() == ["cold"] * 400

    changed = [model(i, sha="f" * 40) for i in range(0, 400, 80)]
    moved = [records[i] for i in range(7, 400, 80)]
    new = [model(i) for i in range(400, 404)]
    gone = {records[i]["modelId"] for i in (3, 150, 399)}
    kept = [r for r in records if r["modelId"] not in gone and r not in moved]
    kept = [r for r in kept if r["modelId"] not in {c["modelId"] for c in changed}]
    warm_records = changed + moved + new + kept
    warm_inputs = write_run(tmp_path / "warm", warm_records)
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    warm = run_tables(warm_inputs, tmp_path / "t2", "warm", cache)
    assert cache.hits + cache.misses == len(warm_records)
    assert 9 <= cache.misses < 150 and cache.hits > 250  # blocks the changes touched only
    plain = run_tables(warm_inputs, tmp_path / "t3", "warm")
    assert all(warm[name].equals(plain[name]) for name in TABLES)

    again = TableCache(tmp_path / "cache", ENDPOINT)
    reused = run_tables(warm_inputs, tmp_path / "t4", "warm", again)
    assert all(reused[name].equals(warm[name]) for name in TABLES)
    assert (again.hits, again.misses) == (len(warm_records), 0)


def test_a_block_whose_models_all_are_in_its_entry_is_not_written_again(tmp_path, monkeypatch):
    """Models that went (or moved within a block) leave the others' entries as they are: their
    rows are all there, so nothing is written; a changed model's block alone is written."""
    records = [model(i) for i in range(300)]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "cold", records), tmp_path / "t1", "cold", cache)
    written = []
    monkeypatch.setattr(TableCache, "put", lambda self, name, block: written.append(name))
    gone = {records[i]["modelId"] for i in (10, 100, 200)}
    fewer = [r for r in records if r["modelId"] not in gone]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "fewer", fewer), tmp_path / "t2", "fewer", cache)
    assert (cache.hits, cache.misses, written) == (297, 0, [])
    fewer[150] = fewer[150] | {"sha": "f" * 40}
    run_tables(write_run(tmp_path / "changed", fewer), tmp_path / "t3", "changed", cache)
    assert cache.misses == 1 and len(written) == 1


def test_a_block_whose_last_model_moved_to_the_front_costs_that_model_alone(tmp_path):
    """The models before a block's last model (m174 here), which changed and moved to the
    front, join the next block: their rows are found in their old entry, which the front block
    (now ending at m174) read, not made again; the tables are those the lookups give."""
    records = [model(i) for i in range(300)]
    assert ends_block(records[174]["modelId"]) and ends_block(records[89]["modelId"])
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "cold", records), tmp_path / "t1", "cold", cache)
    changed = records[174] | {"sha": "f" * 40}
    warm = [changed, *records[:174], *records[175:]]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "warm", warm), tmp_path / "t2", "warm", cache)
    assert (cache.hits, cache.misses) == (299, 1)


def test_a_digest_is_of_the_values_not_the_objects_that_hold_them():
    """Equal records give one digest however their objects are shared or interned; a value of
    another JSON type (1.0 or True for 1) gives another."""
    name = "org3"
    shared = model(3, author=name, library_name=name, safetensors={"total": 1})
    copies = model(3, author=sys.intern("org3"), library_name="".join(["org", "3"]),
                   safetensors={"total": 1})  # fmt: skip
    assert _digest(shared, "null", "v") == _digest(copies, "null", "v")
    assert _digest(shared | {"downloads": 5}, "null", "v") == _digest(shared, "null", "v")
    others = [shared | {"safetensors": {"total": value}} for value in (1.0, True, "1")]
    digests = {_digest(record, "null", "v") for record in [shared, *others]}
    assert len(digests) == 4 and _digest(shared, "[]", "v") not in digests


def test_downloads_likes_and_run_id_are_set_per_run_not_cached(tmp_path):
    records = [model(i) for i in range(60)]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "a", records), tmp_path / "t1", "a", cache)
    popular = [r | {"downloads": 10**9, "likes": 7, "extraction_metadata": {"source": "latest",
               "card_status": "ok", "extracted_at": "later"}} for r in records]  # fmt: skip
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    second = run_tables(write_run(tmp_path / "b", popular), tmp_path / "t2", "b", cache)
    assert (cache.hits, cache.misses) == (60, 0)
    assert set(second["models"].column("downloads").to_pylist()) == {10**9}
    assert set(second["models"].column("likes").to_pylist()) == {7}
    assert set(second["model_entities"].column("run_id").to_pylist()) == {"b"}
    # what the rows show from extraction_metadata is in the key: a new source is made anew
    moved = [r | {"extraction_metadata": {"source": "ancestors", "card_status": "ok"}}
             for r in records]  # fmt: skip
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    third = run_tables(write_run(tmp_path / "c", moved), tmp_path / "t3", "c", cache)
    assert cache.misses == 60 and set(third["models"].column("harvested_as").to_pylist()) == {
        "ancestors"
    }


def test_a_change_of_identify_output_alone_makes_the_model_anew(tmp_path):
    records = [model(i) for i in range(30)]
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    run_tables(write_run(tmp_path / "a", records), tmp_path / "t1", "a", cache)
    inputs = write_run(tmp_path / "b", records)
    path = inputs.identified["licenses"]
    mapping = json.loads(path.read_text())
    mapping[records[4]["modelId"]] = ["apache-2.0"]
    path.write_text(json.dumps(mapping))
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    written = run_tables(inputs, tmp_path / "t2", "b", cache)
    assert cache.misses == 1
    licences = [r for r in written["model_entities"].to_pylist() if r["kind"] == "licenses"]
    assert {r["id"] for r in licences if r["model_id"] == records[4]["modelId"]} == {"apache-2.0"}


def test_identify_files_out_of_order_are_joined_all_the_same(tmp_path):
    records = [model(i) for i in range(50)]
    written = run_tables(write_run(tmp_path / "a", records, shuffled_ids=True), tmp_path / "t", "a")
    assert written["model_entities"].num_rows > 200


def test_a_damaged_or_foreign_entry_is_a_miss_never_rows(tmp_path):
    records = [model(i) for i in range(40)]
    inputs = write_run(tmp_path / "a", records)
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    good = run_tables(inputs, tmp_path / "t1", "a", cache)
    entries = sorted((tmp_path / "cache").rglob("*.arrow"))
    assert entries
    for entry in entries:  # damaged on disk: the checksum fails
        data = bytearray(entry.read_bytes())
        data[-20] ^= 0xFF
        entry.write_bytes(bytes(data))
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    made = run_tables(inputs, tmp_path / "t2", "a", cache)
    assert all(made[name].equals(good[name]) for name in TABLES)
    assert (cache.hits, cache.misses) == (0, 40)
    other = TableCache(tmp_path / "cache", "http://another.example")  # another endpoint's
    run_tables(inputs, tmp_path / "t3", "a", other)
    assert (other.hits, other.misses) == (0, 40)


def test_a_linked_cache_folder_takes_no_write_out_of_the_data_root(tmp_path):
    outside, root = tmp_path / "outside", tmp_path / "cache"
    outside.mkdir()
    root.mkdir()
    cache = TableCache(root, ENDPOINT)
    (root / cache._base[0]).symlink_to(outside)
    run_tables(write_run(tmp_path / "a", [model(i) for i in range(20)]), tmp_path / "t", "a", cache)
    assert list(outside.iterdir()) == [] and cache.hits == 0


@pytest.mark.parametrize("batch_rows", [7, 100, 10_000])
def test_row_groups_hold_batch_rows(tmp_path, batch_rows):
    inputs = write_run(tmp_path / "a", [model(i) for i in range(90)])
    cache = TableCache(tmp_path / "cache", ENDPOINT)
    for out in ("t1", "t2"):  # made, then reused
        run_tables(inputs, tmp_path / out, "a", cache, batch_rows)
        entities = pq.ParquetFile(tmp_path / out / "model_entities.parquet").metadata
        sizes = [entities.row_group(i).num_rows for i in range(entities.num_row_groups)]
        assert all(size == batch_rows for size in sizes[:-1]) and 0 < sizes[-1] <= batch_rows


def test_the_row_cache_key_covers_every_module_the_row_builders_load():
    """An edit of what makes a model's rows must never serve an old entry: every hfharvest
    module a fresh interpreter loads to make them is in TABLE_CODE."""
    plumbing = {"hfharvest", "hfharvest.normalize", "hfharvest.errors", "hfharvest.redact",
                "hfharvest.jsonio", "hfharvest.spill", "hfharvest.cache", "hfharvest.runconfig",
                "hfharvest.ids", "hfharvest.progress", "hfharvest.threads", "hfharvest.joblog",
                "hfharvest.cards", "hfharvest.stages", "hfharvest.stages.identify",
                "hfharvest.stages.extract", "hfharvest.stages.row_entries", "hfharvest.forked",
                "hfharvest.answers", "hfharvest.trail"}  # fmt: skip
    assert not uncovered(loaded_modules("hfharvest.normalize.tables"), TABLE_CODE, plumbing)
