from conftest import all_snapshot_records, snapshot_record

from hfharvest.lineage import base_model_links


def test_relation_tag_wins_over_plain_tag_and_card():
    record = snapshot_record("HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1")
    assert base_model_links(record) == [("mistral-community/Mixtral-8x22B-v0.1", "finetune")]


def test_plain_base_model_tag_and_card():
    record = snapshot_record("HuggingFaceH4/zephyr-7b-beta")
    assert base_model_links(record) == [("mistralai/Mistral-7B-v0.1", "base_model")]


def test_card_naming_an_old_id_keeps_both_names():
    # The card says meta-llama/Meta-Llama-3.1-8B (renamed); the Hub's tag has the new name.
    record = snapshot_record("meta-llama/Llama-3.1-8B-Instruct")
    assert base_model_links(record) == [
        ("meta-llama/Llama-3.1-8B", "finetune"),
        ("meta-llama/Meta-Llama-3.1-8B", "base_model"),
    ]


def test_card_relation_applies_to_card_bases():
    record = {
        "tags": [],
        "cardData": {"base_model": ["a/x", "b/y"], "base_model_relation": "merge"},
    }
    assert base_model_links(record) == [("a/x", "merge"), ("b/y", "merge")]


def test_every_real_base_model_tag_is_found():
    for record in all_snapshot_records():
        tagged = {t.split(":")[-1] for t in record["tags"] if t.startswith("base_model:")}
        assert tagged <= {base for base, _ in base_model_links(record)}, record["id"]


def test_garbage_is_ignored():
    assert base_model_links({"tags": [1, None, "base_model:"], "cardData": "a string"}) == []
