import pytest

from hfharvest.jsonio import artifact_writer, iter_models
from hfharvest.stages.extract import Harvest
from hfharvest.stages.merge import NeedsPlan, merge_artifacts, write_merged
from hfharvest.workflow import write_stage


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


def test_one_pass_merges_exactly_as_the_plan_does(tmp_path):
    """With one artifact holding models, one read of them gives the planned outcomes: a repeated
    id (its card got the second time), unusable records, failures of the other, empty, file."""
    card_failure = {"model_id": "m/x", "reason": "transient", "message": "README", "part": "card"}
    gone = {"model_id": "gone/x", "reason": "not_found", "message": "404"}
    models = [record("m/x", "latest", card_status="transient"), record("a/y", "latest"),
              record("m/x", "latest"), {"modelId": "b/z"}, [1],
              record("c/w", "latest", "gated")]  # fmt: skip
    cases = [
        [artifact(tmp_path / "l.json", models, [card_failure]),
         artifact(tmp_path / "f.json", [], [gone])],
        [artifact(tmp_path / "l0.json", []), artifact(tmp_path / "f1.json", models, [gone])],
    ]  # fmt: skip
    for paths in cases:
        planned = Harvest.collect(merge_artifacts(paths))
        assert Harvest.collect(merge_artifacts(paths, one_pass=True)) == planned
        assert [m["modelId"] for m in planned.models] == ["m/x", "a/y", "c/w"]
        assert len(planned.failures) == 3  # two unusable records, and `gone`


def test_an_id_twice_from_two_sources_in_one_file_is_merged_with_a_plan(tmp_path):
    """One pass cannot give the first record the second's source: it says so, and write_merged
    writes what the plan gives."""
    paths = [artifact(tmp_path / "l.json", [record("m/x", "latest"), record("m/x", "file")])]
    with pytest.raises(NeedsPlan):
        Harvest.collect(merge_artifacts(paths, one_pass=True))
    write_merged(str(tmp_path / "merged.json"), paths)
    [merged] = iter_models(tmp_path / "merged.json")
    assert merged["extraction_metadata"]["sources"] == ["latest", "file"]
    assert [merged] == Harvest.collect(merge_artifacts(paths)).models


def test_one_pass_writes_what_the_plan_writes(tmp_path):
    """One pass keeps a record's text, its metadata (with `sources`) and what follows made
    again: byte for byte the file the plan writes, which encodes each record again; a record
    laid out otherwise than json.dumps writes it, or that has `sources`, is encoded again."""
    models = [
        {**record("a/x", "latest"), "card_sha256": "ab", "tags": ["é", 1.5]},
        record("b/y", "latest"),  # its metadata last: written below as json.dumps would not
        {"modelId": "c/z", "extraction_metadata": {"source": "latest", "sources": ["old"]}},
        {"modelId": "d/w", "extraction_metadata": {}, "cardData": {"extraction_metadata": {}}},
    ]
    path = tmp_path / "l.json"
    artifact(path, models)
    spaced = '"b/y", "extraction_metadata": {"source": "latest", "card_status": "ok"}}'
    assert spaced in path.read_text()
    path.write_text(path.read_text().replace(spaced, spaced.replace(": ", ":")))
    write_merged(str(tmp_path / "one_pass.json"), [str(path)])
    write_stage(str(tmp_path / "planned.json"), "merge_models", merge_artifacts([str(path)]))
    assert (tmp_path / "one_pass.json").read_text() == (tmp_path / "planned.json").read_text()
    merged = list(iter_models(tmp_path / "one_pass.json"))
    sources = [m["extraction_metadata"]["sources"] for m in merged]
    assert sources == [["latest"], ["latest"], ["latest"], [None]]
