"""Run files at Hub scale: no size cap on our own outputs, counts and joins streamed, identify
results reused across runs by record content."""

from __future__ import annotations

import gzip
import itertools
import json
import os
import tracemalloc

import pytest
from conftest import all_snapshot_records, snapshot_record

from hfharvest import jsonio, spill
from hfharvest.identify import identify_models
from hfharvest.jsonio import (
    artifact_writer,
    iter_entries,
    iter_items,
    iter_models,
    iter_models_as_written,
    read_counts,
    read_failures,
    read_json,
    read_key,
    read_tail,
    write_entries,
    write_items,
)
from hfharvest.stages import identify as identify_stage
from hfharvest.stages.enrich import file_enrichment_counts, file_identification_counts

OLD_CAP = 2 * 1024**3


def _sparse_stage_file(path, records):
    """A stage file of `records`, then a string field padded past the old 2 GiB cap by a seek
    (a hole on disk: it costs no space nor time to make)."""
    with open(path, "w", encoding="utf-8") as handle:
        models = ",".join(json.dumps(record) for record in records)
        handle.write(f'{{"stage": "extract_latest", "models": [{models}], "padding": "')
        handle.seek(OLD_CAP + 4096)
        handle.write('"}')


def test_a_stage_file_over_the_old_cap_is_streamed(tmp_path):
    records = all_snapshot_records()[:5]
    path = tmp_path / "hf_models_latest.json"
    _sparse_stage_file(path, records)
    assert path.stat().st_size > OLD_CAP

    tracemalloc.start()
    first = list(itertools.islice(iter_models(path), len(records)))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    assert [r["id"] for r in first] == [r["id"] for r in records]
    assert peak < 20 * 1024**2  # the 2 GiB behind them were never read


def test_a_stage_files_failures_and_counts_are_read_from_its_end(tmp_path):
    """Failures, counts and metadata follow the models: they are read from where the models
    end (the models padded past the old cap by a hole are never parsed), and equal what a
    whole-file parse gives; a model whose text holds the boundary's characters moves nothing."""
    records = all_snapshot_records()[:5]
    records[0] = {**records[0], "note": '\n], "failures": [\n'}
    path = tmp_path / "hf_models.json"
    failures = [{"model_id": "org/x", "reason": "gated", "message": "gated"}]
    with artifact_writer(path, "merge_models") as out:
        out.add((record, None) for record in records)
        out.add([(None, failures[0])])
        out.metadata["hub_requests"] = {"api": 3}
    whole = json.loads(path.read_text())
    assert read_failures(path) == whole["failures"] == failures
    assert read_counts(path) == whole["counts"] == {"models": 5, "failures": 1}
    assert read_key(path, "hub_requests") == {"api": 3}
    assert read_key(path, "stage") == "merge_models" and read_key(path, "renamed", {}) == {}
    keys = ("failures", "counts", "hub_requests", "renamed")
    assert read_tail(path, keys) == {key: whole[key] for key in keys[:3]}
    plain = tmp_path / "not_a_stage_file.json"  # no boundary: its keys read one by one
    plain.write_text(json.dumps({"failures": failures, "models": [], "hub_requests": {"a": 1}}))
    assert read_tail(plain, keys) == {"failures": failures, "hub_requests": {"a": 1}}

    padded = tmp_path / "padded.json"
    with open(path, "rb") as source, open(padded, "wb") as target:
        head, _, tail = source.read().partition(b'\n], "failures": [\n')
        target.write(head + b',\n{"padding": "')
        target.seek(OLD_CAP + 4096)
        target.write(b'"}\n], "failures": [\n' + tail)
    tracemalloc.start()
    assert read_failures(padded) == failures and read_counts(padded)["models"] == 5
    assert tracemalloc.get_traced_memory()[1] < 20 * 1024**2
    tracemalloc.stop()


@pytest.mark.parametrize("kept_max", [8, 1 << 24])
@pytest.mark.parametrize("block", [7, 64, 1 << 20])
def test_a_compressed_stage_files_failures_and_counts_are_read_without_its_models(
    tmp_path, monkeypatch, block, kept_max
):
    """A `.json.gz` stage file cannot be read from its end: its text is scanned for where the
    models end (a boundary cut by any block size found) and only what follows is parsed, so a
    model that does not parse is never met; a model holding the boundary's text moves nothing.
    The same whether what follows is kept from the scan or, when larger, read again."""
    monkeypatch.setattr(jsonio, "_TAIL_BLOCK", block)
    monkeypatch.setattr(jsonio, "_TAIL_KEPT_MAX", kept_max)
    records = all_snapshot_records()[:5]
    records[0] = {**records[0], "note": '\n], "failures": [\n'}
    failures = [{"model_id": "org/x", "reason": "gated", "message": "gated"}]
    path = tmp_path / "hf_models_latest.json.gz"
    with artifact_writer(path, "extract_latest") as out:
        out.add((record, None) for record in records)
        out.add([(None, failures[0])])
        out.metadata["hub_requests"] = {"api": 3}
    whole = json.loads(gzip.decompress(path.read_bytes()))
    assert read_failures(path) == whole["failures"] == failures
    assert read_counts(path) == whole["counts"] == {"models": 5, "failures": 1}
    assert read_key(path, "hub_requests") == {"api": 3}
    assert read_key(path, "stage") == "extract_latest" and read_key(path, "renamed", {}) == {}
    tail = {key: whole[key] for key in ("failures", "counts", "hub_requests")}
    assert read_tail(path, ("failures", "counts", "hub_requests", "renamed")) == tail
    monkeypatch.undo()

    text = gzip.decompress(path.read_bytes()).replace(b"[\n{", b"[\n{,", 1)  # a model broken
    path.write_bytes(gzip.compress(text))
    assert read_failures(path) == failures and read_counts(path)["models"] == 5
    with pytest.raises(ValueError, match="invalid JSON"):
        list(iter_models(path))


def _read_all(reader, path):
    records = []
    try:
        records.extend(reader(path))
    except ValueError as err:
        return records, str(err).split(":")[0]  # the file named; the parsers' words differ
    return records, None


def test_models_read_as_written_are_the_models_and_their_texts(tmp_path):
    """A gather passes records on as their stage file wrote them: the records iter_models
    reads, each with the text it was written as, so the file written again is byte for byte the
    one encoding them gives; on any other text (odd numbers, lone surrogates, another layout,
    a broken file) the records, or the error, are iter_models' own."""
    odd = {"modelId": "o/x", "f": [1.5, -0.0, 1e300, 2**63 - 1, 1 - 2**63], "s": 'é\n\u2028"/'}
    records = [*all_snapshot_records()[:6], odd]
    path = tmp_path / "shard.json"
    with artifact_writer(path, "fetch_latest_cards") as out:
        out.add((record, None) for record in records)
    read = list(iter_models_as_written(path))
    assert read == list(iter_models(path)) == records
    assert all(type(r) is jsonio.ModelText and r.text == json.dumps(r, ensure_ascii=False)
               for r in read)  # fmt: skip
    again = tmp_path / "again.json"
    with artifact_writer(again, "fetch_latest_cards") as out:
        out.add((record, None) for record in read)
    assert again.read_bytes() == path.read_bytes()

    text = path.read_text()
    first, second = text.split("\n")[1:3]
    last = text.split("\n")[len(records)]
    bodies = {
        "nan": text.replace(first, first[:-2] + ', "n": NaN},'),
        "big int": text.replace(first, first[:-2] + f', "n": {2**64}}},'),
        "-2**63": text.replace(first, first[:-2] + f', "n": {-(2**63)}}},'),
        "lone surrogate": text.replace(second, second[:-2] + ', "u": "\\ud800"},'),
        "indented": json.dumps(json.loads(text), indent=1),
        "no models": '{"stage": "x", "models": [\n\n], "failures": []}',
        "trailing comma": text.replace(last + "\n]", last + ",\n]"),
        "an empty model": text.replace(second, second + "\n{},"),
        "comma missing": text.replace(first, first[:-1]),
        "cut": text[: len(text) // 2],
        "split line": text.replace(second, second.replace(", ", ",\n", 1)),
    }
    for name, body in bodies.items():
        path.write_text(body)
        as_written = _read_all(iter_models_as_written, path)
        assert as_written == _read_all(iter_models, path), name


def _as_written(path):
    return [pair for chunk in jsonio.iter_entry_chunks(path) for pair in chunk]


def _encoded(path):
    return [(key, jsonio.dumps_record(value)) for key, value in iter_entries(path)]


def test_an_identify_mappings_value_texts_are_its_values_encoded(tmp_path, monkeypatch):
    """The normalize stage takes an identify mapping's values as the texts written, split a
    chunk of lines at a time: the pairs iter_entries reads, each value as dumps_record encodes
    it, chunks cut anywhere; in another layout (or from a key with escapes on), ijson's, and a
    broken file is ijson's error."""
    monkeypatch.setattr(jsonio, "ENTRY_CHUNK", 40)  # a few lines a chunk
    values = [[], ["mit"], {"b/x": {"relation": "finetune"}}, None, 'é\n\u2028"', [1.5, 2**63 - 1]]
    entries = {f"m/{index:02}": values[index % len(values)] for index in range(30)}
    path = tmp_path / "licenses.json"
    write_entries(path, entries.items())
    assert _as_written(path) == [(k, jsonio.dumps_record(v)) for k, v in entries.items()]

    text = path.read_text()
    bodies = {
        "escaped key": text.replace('"m/10"', '"m/\\u0031\\"0"'),
        "indented": json.dumps(entries, indent=1),
        "one line": json.dumps(entries),
        "empty": "{\n}\n",
        "whitespace after": text + "\n",
        "trailing comma": text.replace("\n}", ",\n}"),
        "comma missing": text.replace("[],\n", "[]\n", 1),
        "cut": text[: len(text) // 2],
        "split line": text.replace('"m/12": ', '"m/12":\n'),
    }
    for name, body in bodies.items():
        path.write_text(body)
        assert _read_all(_as_written, path) == _read_all(_encoded, path), name


def test_an_enrich_outputs_items_read_a_line_at_a_time_are_ijsons(tmp_path):
    """Items of a list written one a line are read by json.loads; whatever it would read
    otherwise than ijson (big integers, lone surrogates), another layout or a broken file:
    ijson's items, or its error."""
    items = [{"id": f"d/{index}", "n": index, "f": [1.5, -0.0], "s": 'é\n"'} for index in range(9)]
    path = tmp_path / "hf_datasets_specific.json"
    write_items(path, items)
    assert list(iter_items(path)) == items
    text = path.read_text()
    first = text.split("\n")[1]
    bodies = {
        "big int": text.replace(first, first[:-2] + f', "x": {2**64}}},'),
        "lone surrogate": text.replace(first, first[:-2] + ', "u": "\\ud800"},'),
        "indented": json.dumps(items, indent=1),
        "one line": json.dumps(items),
        "empty": "[\n]\n",
        "trailing comma": text.replace("\n]", ",\n]"),
        "cut": text[: len(text) // 2],
    }
    for name, body in bodies.items():
        path.write_text(body)
        ijsons = _read_all(lambda p: jsonio._items(p, "item"), path)
        assert _read_all(iter_items, path) == ijsons, name


def test_a_compressed_stage_files_tail_is_scanned_once_per_file_version(tmp_path, monkeypatch):
    """A job reads a `.json.gz` stage file's failures, counts and request counts one by one:
    the file is decompressed for the first only, and a file replaced since is read anew."""
    scans = []
    scan = jsonio._tail_forward
    monkeypatch.setattr(jsonio, "_tail_forward", lambda handle: scans.append(1) or scan(handle))
    path = tmp_path / "hf_models_latest.json.gz"
    for requests in (3, 4):
        with artifact_writer(path, "extract_latest") as out:
            out.add((record, None) for record in all_snapshot_records()[:3])
            out.add([(None, {"model_id": "org/x", "reason": "gated", "message": "gated"})])
            out.metadata["hub_requests"] = {"api": requests}
        assert read_key(path, "hub_requests") == {"api": requests}
        assert read_counts(path) == {"models": 3, "failures": 1}
        assert [f["model_id"] for f in read_failures(path)] == ["org/x"]
    assert len(scans) == 2
    # written again in place, same inode, size and modification time: its text tells
    info, other = path.stat(), tmp_path / "other.json.gz"
    for requests in range(5, 200):  # a count whose file compresses to the same size
        with artifact_writer(other, "extract_latest") as out:
            out.add((record, None) for record in all_snapshot_records()[:3])
            out.add([(None, {"model_id": "org/x", "reason": "gated", "message": "gated"})])
            out.metadata["hub_requests"] = {"api": requests}
        if other.stat().st_size == info.st_size:
            break
    with open(path, "r+b") as handle:
        handle.write(other.read_bytes())
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert (path.stat().st_ino, path.stat().st_size) == (info.st_ino, info.st_size)
    assert read_key(path, "hub_requests") == {"api": requests}


def test_an_identify_mapping_over_the_old_cap_is_streamed(tmp_path):
    path = tmp_path / "licenses.json"
    with open(path, "w", encoding="utf-8") as handle:
        handle.write('{"gpt2": ["mit"], "google/flan-t5-large": ["apache-2.0"], "x": ["')
        handle.seek(OLD_CAP + 1)
        handle.write('"]}')
    assert path.stat().st_size > OLD_CAP
    assert list(itertools.islice(iter_entries(path), 2)) == [
        ("gpt2", ["mit"]),
        ("google/flan-t5-large", ["apache-2.0"]),
    ]


def _entities(count: int):
    """Base-model entities around real records (each ~5-20 KB), under distinct ids."""
    records = all_snapshot_records()
    for index in range(count):
        record = records[index % len(records)]
        enriched = index % 7 != 0
        yield {
            "id": f"{record['id']}-{index}",
            "enriched": enriched,
            **({} if enriched else {"reason": "gated" if index % 2 else "not_found"}),
            "record": record,
            "models": [f"org/child-{index}"],
        }


def test_summary_counts_a_large_enrich_output_in_bounded_memory(tmp_path):
    path = tmp_path / "hf_base_models.json"
    count = 6000
    write_items(path, _entities(count))
    assert path.stat().st_size > 30 * 1024**2

    tracemalloc.start()
    counts = file_enrichment_counts(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    unresolved = len(range(0, count, 7))
    gated = len([i for i in range(0, count, 7) if i % 2])
    assert counts == {
        "entities": count,
        "enriched": count - unresolved,
        "unresolved": unresolved,
        "unresolved_by_reason": {"gated": gated, "not_found": unresolved - gated},
    }
    assert peak < 4 * 1024**2, f"{peak} bytes for a {path.stat().st_size}-byte file"


def test_summary_counts_a_large_mapping_in_bounded_memory(tmp_path):
    path = tmp_path / "identifiers.json"
    count = 200_000
    with open(path, "w", encoding="utf-8") as handle:
        entries = (f'"org/m{i}": ["https://huggingface.co/org/m{i}"]' for i in range(count))
        handle.write("{" + ",\n".join(entries) + ',\n"org/none": []}')
    tracemalloc.start()
    counts = file_identification_counts(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert counts == {
        "models": count + 1,
        "models_with_entities": count,
        "distinct_entities": count,
    }
    assert peak < 8 * 1024**2, peak


def _artifact(path, records):
    with artifact_writer(path, "add_ancestor_models") as out:
        for record in records:
            out.add_model({**record, "modelId": record["id"]})


def _run(tmp_path, kind, models, name):
    cache = identify_stage.ResultCache(tmp_path / "cache", "replica?scale=0", identify_stage.ROWS)
    outputs = {"mapping": tmp_path / f"{name}-{kind}.json"}
    if kind == "datasets":
        outputs["sources"] = tmp_path / f"{name}-sources.json"
    counts = identify_stage.identify_run({kind: outputs}, models, cache)[kind]
    return counts, dict(iter_entries(outputs["mapping"]))


def test_identify_reuses_the_results_of_unchanged_models(tmp_path):
    records = all_snapshot_records()
    models = tmp_path / "models.json"
    _artifact(models, records)

    cold, first = _run(tmp_path, "licenses", models, "cold")
    assert (cold["cache_hits"], cold["cache_misses"]) == (0, len(records))
    assert first == identify_models("licenses", records)
    assert first["google/flan-t5-large"] == ["Apache-2.0"]

    # A new run: one model's card now states another licence; the others did not change.
    changed = [dict(r) for r in records]
    flan = next(r for r in changed if r["id"] == "google/flan-t5-large")
    flan["cardData"] = {**flan["cardData"], "license": "mit"}
    flan["tags"] = [t for t in flan["tags"] if not t.startswith("license:")]
    _artifact(models, changed)
    warm, second = _run(tmp_path, "licenses", models, "warm")
    assert (warm["cache_hits"], warm["cache_misses"]) == (len(records) - 1, 1)
    assert second["google/flan-t5-large"] == ["MIT"]
    assert {k: v for k, v in second.items() if k != flan["id"]} == {
        k: v for k, v in first.items() if k != flan["id"]
    }


def test_identify_cache_is_keyed_by_kind_code_and_endpoint(tmp_path, monkeypatch):
    models = tmp_path / "models.json"
    _artifact(models, [snapshot_record("google/flan-t5-large"), snapshot_record("gpt2")])
    assert _run(tmp_path, "datasets", models, "a")[0]["cache_misses"] == 2
    counts, mapping = _run(tmp_path, "datasets", models, "b")
    assert (counts["cache_hits"], counts["cache_misses"]) == (2, 0)
    assert mapping == identify_models("datasets", [snapshot_record("google/flan-t5-large"),
                                                   snapshot_record("gpt2")])  # fmt: skip
    sources = dict(iter_entries(tmp_path / "b-sources.json"))
    assert set(sources["google/flan-t5-large"]) == set(mapping["google/flan-t5-large"])

    assert _run(tmp_path, "licenses", models, "c")[0]["cache_hits"] == 0  # another kind
    rows = identify_stage.ROWS
    other = identify_stage.ResultCache(tmp_path / "cache", "https://huggingface.co", rows)
    digest = identify_stage.record_digest(rows, snapshot_record("gpt2"))
    assert other.get(digest) is None
    assert identify_stage.ResultCache(tmp_path / "cache", "replica?scale=0", rows).get(digest)
    monkeypatch.setattr(identify_stage, "code_version", lambda: "a-new-identifier")
    assert _run(tmp_path, "datasets", models, "d")[0]["cache_misses"] == 2


def test_enrich_items_stream_back_in_order(tmp_path):
    path = tmp_path / "keywords.json"
    written = write_items(path, ({"id": str(i)} for i in range(1000)))
    assert written == 1000
    assert [item["id"] for item in iter_items(path)] == [str(i) for i in range(1000)]
    assert json.loads(path.read_text()) == [{"id": str(i)} for i in range(1000)]


def test_the_normalize_stage_looks_models_up_on_disk_not_in_a_dict(tmp_path):
    from hfharvest.spill import DiskMap

    pairs = ((f"org-{i % 97}/model-{i}", [f"dataset-{i % 13}", "wiki"]) for i in range(200_000))
    tracemalloc.start()
    lookup = DiskMap(pairs)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 8 * 1024 * 1024  # a dict of these 200 000 entries takes about 47 MB
    assert lookup["org-5/model-5"] == ["dataset-5", "wiki"]
    assert lookup.get("org-0/model-1") is None and "org-1/model-1" in lookup
    assert len(lookup) == 200_000
    assert lookup and not DiskMap(iter(()))  # truth is "any row", not a count of them all
    lookup.close()


@pytest.mark.parametrize("held", [0, 7, 2 * spill._BATCH, spill._HELD_MEMBERS])
def test_groups_answer_for_keys_added_with_or_without_members(held):
    """Whether held in memory, spilled to disk before, or during (`held`): a key added with
    members (on disk, no presence row of its own) is held, counted once and comes out with its
    members sorted and deduplicated; a key added with none comes out empty."""
    pairs = [(f"k{i % 7}", f"m{(i * 13) % 50:02d}") for i in range(3 * spill._BATCH)]
    pairs.append(("k\u00e9", "m\U0001f600"))  # sorted by code point, as SQLite by UTF-8 bytes
    with spill.Groups(held=held) as groups:
        groups.add("lonely")
        groups.add_pairs(iter(pairs))
        groups.add("k3", ["m00", "extra"])
        assert len(groups) == 9 and "k0" in groups and "lonely" in groups and "k9" not in groups
        assert groups.present(["k1", "k9", "lonely"]) == {"k1", "lonely"}
        out = dict(groups.members())
    expected: dict[str, set] = {"lonely": set()}
    for key, member in [*pairs, ("k3", "m00"), ("k3", "extra")]:
        expected.setdefault(key, set()).add(member)
    assert out == {key: sorted(members) for key, members in expected.items()}
    assert list(out) == sorted(out)


@pytest.mark.parametrize("held", [0, 7, spill._HELD_DISTINCT])
def test_distinct_values_are_counted_across_batches(held):
    """Values repeated in later batches (and within one) count once, whether they were held in
    memory or spilled to disk before or after (`held`); no value, no count."""
    values = (value for _ in range(3) for value in ["a", "b", *map(str, range(spill._BATCH))])
    assert spill.count_distinct(values, held) == spill._BATCH + 2
    assert spill.count_distinct(iter([]), held) == 0
    assert spill.count_distinct(iter(["x"] * 9 + ["y"]), held) == 2


def test_a_few_distinct_values_are_counted_without_a_scratch_database(monkeypatch):
    """A kind with a few hundred ids (licences, tasks) is counted in memory, at any N."""
    monkeypatch.setattr(spill, "ScratchDB", None)  # any use of one fails
    assert spill.count_distinct(f"id-{i % 300}" for i in range(100_000)) == 300


def test_a_memoised_disk_map_keeps_a_bounded_number_of_values_and_answers_as_without():
    from hfharvest.spill import DiskMap

    pairs = [(f"license-{i}", {"id": f"license-{i}", "n": i}) for i in range(50)]
    plain, memoised = DiskMap(pairs), DiskMap(pairs, memo=8)
    asked = [f"license-{i % 20}" for i in range(200)] + ["absent", "absent"]
    assert [memoised.get(key, "none") for key in asked] == [plain.get(key, "none") for key in asked]
    assert memoised.get("license-3") is memoised.get("license-3")  # decoded once, while kept
    assert memoised._read.cache_info().currsize == 8
    assert "absent" not in memoised and memoised.get("absent") is None
    plain.close()
    memoised.close()


def test_outputs_are_as_readable_as_any_file_the_user_writes(tmp_path):
    from hfharvest.jsonio import write_json

    umask = os.umask(0o027)
    try:
        os.umask(umask)
        write_json(tmp_path / "out.json", {"a": 1})
        plain = tmp_path / "plain.json"
        plain.write_text("{}")
    finally:
        os.umask(umask)
    mode = (tmp_path / "out.json").stat().st_mode & 0o777
    assert mode == plain.stat().st_mode & 0o777 == 0o666 & ~umask


def test_a_compressed_stage_file_streams_back_and_a_capped_read_counts_decoded_bytes(tmp_path):
    """A `.json.gz` run file holds the same JSON as a `.json` one (any gzip tool reads it), is
    streamed back by the same readers, and a reader's cap applies to the decompressed bytes."""
    records = all_snapshot_records()
    plain, packed = tmp_path / "stage.json", tmp_path / "stage.json.gz"
    for path in (plain, packed):
        with artifact_writer(path, "extract_latest") as out:
            for record in records:
                out.add_model(record)
            out.add_failure({"model_id": "x/y", "reason": "not_found"})
    with gzip.open(packed, "rb") as handle:
        assert handle.read() == plain.read_bytes()
    assert packed.stat().st_size * 3 < plain.stat().st_size
    assert list(iter_models(packed)) == records
    assert read_counts(packed) == {"models": len(records), "failures": 1}
    assert read_json(packed, max_bytes=plain.stat().st_size)["counts"]["models"] == len(records)
    # Under the cap as stored, over it decompressed: refused while decompressing.
    cap = plain.stat().st_size - 1
    assert packed.stat().st_size < cap
    with pytest.raises(ValueError, match="cap decompressed"):
        read_json(packed, max_bytes=cap)


def test_keyed_rows_come_back_by_key_each_keys_adds_in_seq_order():
    """Across batches (adds beyond spill._BATCH), keys out of order, seqs given out of order:
    by key, then by seq, each add's texts as given."""
    added = [(f"m{(i * 7919) % 3001:05d}", (i * 31) % (2 * spill._BATCH)) for i in range(9000)]
    added += [(key, seq + 2 * spill._BATCH) for key, seq in added[:3000]]  # keys added again
    with spill.KeyedRows(2) as rows:
        for key, seq in reversed(added):
            rows.add(key, f"{key}:{seq}", "[]", seq=seq)
        back = list(rows.by_key())
    expected: dict[str, list] = {}
    for key, seq in sorted(added):
        expected.setdefault(key, []).append((f"{key}:{seq}", "[]"))
    assert [key for key, _ in back] == sorted(expected)
    assert dict(back) == expected
