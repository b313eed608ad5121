import pytest

from hfharvest.jsonio import artifact_writer
from hfharvest.stages.extract import Harvest
from hfharvest.stages.shards import gather, shard_of, take_shard


def test_scatter_items():
    assert shard_of("1-of-1") == (0, 1)
    assert shard_of("3-of-8") == (2, 8)
    for bad in ["0-of-2", "3-of-2", "x-of-2", "1of2"]:
        with pytest.raises(ValueError):
            shard_of(bad)


@pytest.mark.parametrize("count", [1, 2, 3, 7, 12])
def test_gathering_the_shards_restores_the_order(tmp_path, count):
    records = [{"modelId": f"org/m{i}"} for i in range(10)]
    records.insert(5, {"modelId": "org/m2"})  # a renamed repo listed twice
    failures = [{"model_id": f"org/f{i}", "reason": "not_found"} for i in range(3)]
    paths = []
    for index in range(count):
        path = tmp_path / f"{index + 1}-of-{count}.json"
        with artifact_writer(path, "shard") as out:
            for record in take_shard(records, f"{index + 1}-of-{count}"):
                out.add_model(record)
            for failure in take_shard(failures, f"{index + 1}-of-{count}"):
                out.add_failure(failure)
        paths.append(str(path))
    gathered = Harvest.collect(gather(paths, first_failures=[{"model_id": "file:3"}]))
    assert [r["modelId"] for r in gathered.models] == [f"org/m{i}" for i in range(10)]
    assert [f["model_id"] for f in gathered.failures] == ["file:3", "org/f0", "org/f1", "org/f2"]


def test_a_shard_does_not_repeat_the_listing_files_failures(tmp_path):
    from hfharvest.hub import HubClient
    from hfharvest.replica import ReplicaHub
    from hfharvest.stages.extract import Extractor, problems_failure
    from hfharvest.stages.shards import latest_shard

    with ReplicaHub() as hub:
        extractor = Extractor(HubClient(hub.url), threads=2)
        [(record, _)] = list(extractor.listing_outcomes(1))
        record["extraction_metadata"]["problems"] = ["likes: not an integer, dropped"]
        listing = tmp_path / "listing.json"
        with artifact_writer(listing, "list_latest_models") as out:
            out.add([(record, problems_failure(record))])
        shard = Harvest.collect(latest_shard(extractor, str(listing), "1-of-1"))
    assert [m["modelId"] for m in shard.models] == [record["modelId"]]
    assert [f for f in shard.failures if f.get("part") == "metadata"] == []


def test_a_gather_that_only_writes_its_records_writes_what_one_parsing_them_writes(tmp_path):
    """parsed=False: a line starting with its id passes as its text, holding only that id; the
    gathered file is the same bytes."""
    records = [
        {"modelId": "org/m0", "sha": "a" * 40, "downloads": 2**40, "card_sha256": None},
        {"sha": "b" * 40, "modelId": "org/m1", "tags": ["ü", "x\ty"]},  # id not first: parsed
        {"modelId": "org/m0", "sha": "c" * 40},  # a renamed repo listed twice
        {"modelId": "org/é", "meta": {"nested": [1.5, None, True]}},
    ]
    shard = tmp_path / "1-of-1.json"
    with artifact_writer(shard, "shard") as out:
        out.add([(record, None) for record in records])
    written = {}
    for parsed in (True, False):
        with artifact_writer(tmp_path / f"{parsed}.json", "gathered") as out:
            gathered = list(gather([str(shard)], parsed=parsed))
            out.add(gathered)
        written[parsed] = (tmp_path / f"{parsed}.json").read_bytes()
    assert written[False] == written[True]
    assert [record for record, _ in gathered] == [
        {"modelId": "org/m0"}, records[1], {"modelId": "org/é"}
    ]  # fmt: skip
