"""One id per base model: a renamed repo's old and new names become one base, through the
redirects the replica hub serves (recorded from the real Hub, api/redirects.json)."""

from __future__ import annotations

from card_helpers import card_store
from conftest import snapshot_record
from test_card_text import card

from hfharvest.hub import HubClient
from hfharvest.identify import base_model_mappings, identify_base_models
from hfharvest.identify.base_models import relations_of
from hfharvest.jsonio import artifact_writer
from hfharvest.stages.ancestors import STATED, add_ancestors
from hfharvest.stages.extract import Extractor, Harvest
from hfharvest.stages.identify import ResultCache
from hfharvest.workflow import write_stage

# Real cards (tests/data/cards/PROVENANCE.md) under their real model ids.
CARDS = {
    # YAML `base_model: google-bert/bert-base-uncased`
    "tabularisai/robust-sentiment-analysis": "hf-readme__tabularisai_robust-sentiment-analysis.md",
    # no base_model in the YAML; the Trainer's sentence: [bert-base-uncased](...)
    "Intel/bert-base-uncased-mrpc": "hf-readme__Intel_bert-base-uncased-mrpc.md",
    # YAML `base_model: meta-llama/Meta-Llama-3.1-8B-Instruct`, the pre-rename id
    "DeepMount00/Llama-3.1-8b-Ita": "hf-readme__DeepMount00_Llama-3.1-8b-Ita.md",
    # YAML `base_model: [meta-llama/Llama-3.1-8B-Instruct]`
    "WillHeld/DiVA-llama-3-v0-8b": "hf-readme__WillHeld_DiVA-llama-3-v0-8b.md",
}
BERT, LLAMA = "google-bert/bert-base-uncased", "meta-llama/Llama-3.1-8B-Instruct"


def harvested(model_id: str) -> dict:
    record = card(CARDS[model_id], model_id)
    record["extraction_metadata"] = {"source": "file", "method": "model_info"}
    return record


def test_renamed_bases_are_one_base_each_through_the_replicas_redirects(replica, tmp_path):
    merged = tmp_path / "merged.json"
    with artifact_writer(merged, "merge_models") as out:
        out.add((harvested(model_id), None) for model_id in CARDS)
    extractor = Extractor(HubClient(replica.url, max_retries=1, backoff_s=0.01), threads=2)
    renamed: dict[str, str] = {}
    harvest = Harvest.collect(add_ancestors(extractor, str(merged), 1, renamed))

    # The Hub's redirects, as the ancestors stage saw them: the record cache of renames.
    assert renamed == {
        "bert-base-uncased": BERT,
        "meta-llama/Meta-Llama-3.1-8B-Instruct": LLAMA,
    }
    assert replica.stats()["by_status"]["307"] == 2
    bases = [m for m in harvest.models if "ancestry" in m]
    assert sorted(m["modelId"] for m in bases) == [BERT, LLAMA]  # one record each
    pulled_in_by = {m["modelId"]: m["ancestry"]["pulled_in_by"] for m in bases}
    assert {"model_id": "tabularisai/robust-sentiment-analysis", "relation": "base_model"} in (
        pulled_in_by[BERT]
    )

    mapping, relations = base_model_mappings(harvest.models, renamed)
    assert {model: mapping[model] for model in CARDS} == {
        "tabularisai/robust-sentiment-analysis": [BERT],
        "Intel/bert-base-uncased-mrpc": [BERT],
        "DeepMount00/Llama-3.1-8b-Ita": [LLAMA],
        "WillHeld/DiVA-llama-3-v0-8b": [LLAMA],
    }
    # The relation file keeps each id as the card wrote it, and where it was read.
    assert relations["Intel/bert-base-uncased-mrpc"][BERT] == {
        "relation": "finetune",
        "source": "card_text",
        "as_written": ["bert-base-uncased"],
    }
    assert relations["DeepMount00/Llama-3.1-8b-Ita"][LLAMA]["as_written"] == [
        "meta-llama/Meta-Llama-3.1-8B-Instruct"
    ]
    lineage_nodes = {base for bases_of in mapping.values() for base in bases_of}
    assert {BERT, LLAMA} <= lineage_nodes
    assert not {"bert-base-uncased", "meta-llama/Meta-Llama-3.1-8B-Instruct"} & lineage_nodes


def test_llama_3_1_instruct_names_its_base_twice_and_a_known_rename_makes_it_one():
    llama = snapshot_record(LLAMA)
    assert "base_model:meta-llama/Llama-3.1-8B" in llama["tags"]
    assert llama["cardData"]["base_model"] == "meta-llama/Meta-Llama-3.1-8B"
    # Without the Hub's word (the replica serves neither repo), the two names stay two.
    assert identify_base_models(llama) == [
        "meta-llama/Llama-3.1-8B",
        "meta-llama/Meta-Llama-3.1-8B",
    ]
    # With the redirect the Hub answers for the old name, they are one, both names kept.
    renamed = {"meta-llama/Meta-Llama-3.1-8B": "meta-llama/Llama-3.1-8B"}
    assert relations_of(llama, renamed) == {
        "meta-llama/Llama-3.1-8B": {
            "relation": "finetune",  # the tag's, over the card's plain link
            "source": "metadata",
            "as_written": ["meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"],
        }
    }


def test_the_bases_a_card_states_are_read_once_per_card_digest(replica, tmp_path):
    """Intel's card names its base only in the Trainer's sentence: the ancestors stage reads
    the text once, a later run reuses what it stated by the card's digest (the blob gone, the
    base is still followed), and an edited card, a new digest, is read again."""
    store = card_store(tmp_path)
    intel = harvested("Intel/bert-base-uncased-mrpc")
    intel["card_sha256"] = store.put(intel.pop("card"))
    merged = tmp_path / "merged.json"
    with artifact_writer(merged, "merge_models") as out:
        out.add([(intel, None)])

    def bases(stated: ResultCache) -> list[str]:
        extractor = Extractor(HubClient(replica.url, max_retries=1), threads=2, cards=store)
        harvest = Harvest.collect(add_ancestors(extractor, str(merged), 1, stated=stated))
        return sorted(m["modelId"] for m in harvest.models if "ancestry" in m)

    first = ResultCache(tmp_path / "cache", replica.url, STATED)
    assert bases(first) == [BERT] and (first.hits, first.misses) == (0, 2)  # Intel's, BERT's
    store.path(intel["card_sha256"]).unlink()
    again = ResultCache(tmp_path / "cache", replica.url, STATED)
    assert bases(again) == [BERT] and (again.hits, again.misses) == (2, 0)
    edited = store.put("# A model card that names no base model\n")
    with artifact_writer(merged, "merge_models") as out:
        out.add([({**intel, "card_sha256": edited}, None)])
    third = ResultCache(tmp_path / "cache", replica.url, STATED)
    assert bases(third) == [] and (third.hits, third.misses) == (0, 1)  # BERT not pulled in


def test_merged_records_pass_through_as_their_file_holds_them(replica, tmp_path):
    """The merged models are written as read (text kept, not decoded and encoded again): a
    record the merge wrote with its non-ASCII letters escaped keeps them escaped."""
    merged, out = tmp_path / "merged.json", tmp_path / "ancestors.json"
    with artifact_writer(merged, "merge_models") as writer:
        writer.add((harvested(model_id), None) for model_id in CARDS)
    text = merged.read_text().replace('"source": "file"', '"source": "fil\\u00e9"')
    merged.write_text(text)
    extractor = Extractor(HubClient(replica.url, max_retries=1, backoff_s=0.01), threads=2)
    write_stage(str(out), "add_ancestor_models", add_ancestors(extractor, str(merged), 0))
    models = [line.rstrip(",") for line in text.splitlines()[1 : len(CARDS) + 1]]
    assert out.read_text().splitlines()[1 : len(CARDS) + 1] == [
        line if n == len(CARDS) - 1 else f"{line}," for n, line in enumerate(models)
    ]
