from hfharvest.jsonio import artifact_writer
from hfharvest.stages.extract import Harvest
from hfharvest.stages.merge import merge_artifacts


def record(model_id, source, card_status="ok"):
    return {
        "modelId": model_id,
        "extraction_metadata": {"source": source, "card_status": card_status},
    }


def artifact(path, models, failures=()):
    with artifact_writer(path, "test") as out:
        for model in models:
            out.add_model(model)
        for failure in failures:
            out.add_failure(failure)
    return str(path)


def merge(*artifacts) -> Harvest:
    return Harvest.collect(merge_artifacts(list(artifacts)))


def test_union_by_id_in_listing_then_file_order_with_every_source(tmp_path):
    latest = artifact(tmp_path / "l.json", [record("b/x", "latest"), record("a/y", "latest")])
    from_file = artifact(tmp_path / "f.json", [record("c/z", "file"), record("b/x", "file")])
    merged = merge(latest, from_file)
    assert [m["modelId"] for m in merged.models] == ["b/x", "a/y", "c/z"]
    assert merged.models[0]["extraction_metadata"]["sources"] == ["latest", "file"]
    assert merged.models[2]["extraction_metadata"]["sources"] == ["file"]
    assert merged.failures == []


def test_a_record_with_its_card_replaces_one_without(tmp_path):
    card_failure = {"model_id": "m/x", "reason": "transient", "message": "README", "part": "card"}
    latest = artifact(
        tmp_path / "l.json", [record("m/x", "latest", card_status="transient")], [card_failure]
    )
    from_file = artifact(tmp_path / "f.json", [record("m/x", "file")])
    merged = merge(latest, from_file)
    assert len(merged.models) == 1
    assert merged.models[0]["extraction_metadata"]["card_status"] == "ok"
    assert merged.models[0]["extraction_metadata"]["sources"] == ["latest", "file"]
    assert merged.failures == []


def test_failures_survive_unless_another_source_got_the_model(tmp_path):
    missing = {"model_id": "gone/x", "reason": "not_found", "message": "404"}
    got_later = {"model_id": "a/y", "reason": "transient", "message": "503"}
    latest = artifact(tmp_path / "l.json", [record("a/y", "latest")])
    from_file = artifact(tmp_path / "f.json", [], [missing, got_later, dict(missing)])
    assert merge(latest, from_file).failures == [missing]
