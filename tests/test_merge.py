from hfharvest.stages.merge import merge_harvests


def record(model_id, source, card_status="ok"):
    return {
        "modelId": model_id,
        "extraction_metadata": {"source": source, "card_status": card_status},
    }


def test_union_by_id_sorted_with_every_source():
    latest = {"models": [record("b/x", "latest"), record("a/y", "latest")], "failures": []}
    from_file = {"models": [record("b/x", "file"), record("c/z", "file")], "failures": []}
    models, failures = merge_harvests(latest, from_file)
    assert [m["modelId"] for m in models] == ["a/y", "b/x", "c/z"]
    assert models[1]["extraction_metadata"]["sources"] == ["latest", "file"]
    assert failures == []


def test_a_record_with_its_card_replaces_one_without():
    gated = record("m/x", "latest", card_status="transient")
    card_failure = {"model_id": "m/x", "reason": "transient", "message": "README", "part": "card"}
    latest = {"models": [gated], "failures": [card_failure]}
    from_file = {"models": [record("m/x", "file")], "failures": []}
    models, failures = merge_harvests(latest, from_file)
    assert models[0]["extraction_metadata"]["card_status"] == "ok"
    assert models[0]["extraction_metadata"]["sources"] == ["latest", "file"]
    assert failures == []


def test_failures_survive_unless_another_source_got_the_model():
    missing = {"model_id": "gone/x", "reason": "not_found", "message": "404"}
    got_later = {"model_id": "a/y", "reason": "transient", "message": "503"}
    latest = {"models": [record("a/y", "latest")], "failures": []}
    from_file = {"models": [], "failures": [missing, got_later, dict(missing)]}
    _, failures = merge_harvests(latest, from_file)
    assert failures == [missing]
