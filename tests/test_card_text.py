"""Base models and datasets stated in card text, on real cards (tests/data/cards, PROVENANCE.md).

Each card is read as the Hub reads it: its YAML front matter is the record's `cardData`, the
whole file its `card`. Expected values are read off the cards by hand and written here literally.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from hfharvest.identify import IDENTIFIERS, base_model_relations, dataset_provenance
from hfharvest.identify.card_text import stated_base_models, stated_datasets
from hfharvest.replica import load_snapshot

CARDS = Path(__file__).parent / "data" / "cards"
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(?P<yaml>.*?)\n---\s*\n", re.S)


def card(name: str, model_id: str = "someone/model") -> dict:
    """The record the Hub would give for this README (tags: the card's own, as the Hub copies
    them; no `base_model:` tags, which the Hub adds server-side)."""
    text = (CARDS / name).read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    data = yaml.safe_load(match["yaml"]) if match else None
    data = data if isinstance(data, dict) else {}
    tags = [tag for tag in data.get("tags") or [] if isinstance(tag, str)]
    return {
        "modelId": model_id,
        "card": text,
        "cardData": data,
        "tags": [tag for tag in tags if not tag.startswith("base_model:")],
        "library_name": data.get("library_name"),
    }


def relations(record: dict) -> dict[str, tuple[str, str]]:
    entries = base_model_relations([record])[record["modelId"]]
    return {base: (entry["relation"], entry["source"]) for base, entry in entries.items()}


# -- the tools' sentences, each on a real card --------------------------------------------------


def test_trainer_sentence_names_the_base_and_the_dataset():
    # "This model is a fine-tuned version of [distilbert-base-uncased](...) on the imdb dataset."
    record = card("cs577__MelikeDulkadir_output_README.md")
    assert stated_base_models(record) == {"distilbert-base-uncased": "finetune"}
    assert stated_datasets(record) == ["imdb"]
    assert relations(record) == {"distilbert-base-uncased": ("finetune", "card_text")}
    # its YAML says `datasets: [imdb]`: the metadata's word is the one kept
    assert dataset_provenance([record])[record["modelId"]] == {"imdb": "metadata"}


@pytest.mark.parametrize(
    "name",
    [
        "cs577__Abderrahim2_bert-finetuned-gender_classification_README.md",  # an unknown dataset
        "cs577__AfnanTS_bert-base-uncased-finetuned-wikitext2_README.md",  # the None dataset
    ],
)
def test_trainer_sentence_without_a_dataset(name):
    record = card(name)
    assert stated_base_models(record) == {"bert-base-uncased": "finetune"}
    assert stated_datasets(record) == []
    assert IDENTIFIERS["datasets"](record) == []


def test_a_local_path_is_no_base_model_but_a_hub_dataset_id_is_a_dataset():
    # [/models/1.3b-dalio-principles-book](https://huggingface.co//models/...) on the
    # AlekseyKorshuk/dalio-all-io dataset
    record = card("cs577__AlekseyKorshuk_1.3b-all-2-epoch-v1-after-book_README.md")
    assert stated_base_models(record) == {}
    assert stated_datasets(record) == ["AlekseyKorshuk/dalio-all-io"]


def test_trl_card_of_a_peft_adapter():
    record = card("blackhank__finetuned_adapter.md")
    assert stated_base_models(record) == {"NousResearch/Llama-2-7b-chat-hf": "adapter"}


def test_trl_card_that_knew_no_base_and_llama_factorys_local_names():
    # "fine-tuned version of [None](https://huggingface.co/None)"
    assert stated_base_models(card("yushaolong10__qwen_lora_adapter_0116_l.md")) == {}
    # a local path as base; "on the identity, the alpaca_zh_demo and the alpaca_en_demo datasets"
    llama_factory = card("renji555__Qwen3-0.6B-lora-sft.md")
    assert stated_base_models(llama_factory) == {}
    assert stated_datasets(llama_factory) == []


def test_sentence_transformers_card():
    record = card("hf-readme__s2593817_sft-sql-embedding.md")
    assert stated_base_models(record) == {"sentence-transformers/all-mpnet-base-v2": "finetune"}


def test_mergekit_card_base_and_merged_models_but_not_the_quant_links():
    record = card("hf-readme__AuriAetherwiing_MN-12B-Starcannon-v2.md")
    assert "huggingface.co/mradermacher/MN-12B-Starcannon-v2-GGUF" in record["card"]
    assert stated_base_models(record) == {
        "nothingiisreal/MN-12B-Celeste-V1.9": "merge",
        "intervitens/mini-magnum-12b-v1.1": "merge",
    }


def test_mergekit_base_named_only_in_the_text_does_not_extend_the_metadata():
    record = card("hf-readme__sophosympatheia_Midnight-Miqu-70B-v1.5.md")
    assert stated_base_models(record) == {
        "152334H/miqu-1-70b-sf": "merge",  # "... using [152334H_miqu-1-70b-sf](...) as a base"
        "migtissera/Tess-70B-v1.6": "merge",
        "sophosympatheia/Midnight-Miqu-70B-v1.0": "merge",
    }
    # the YAML lists two of them (the base is a local path there): those two, with the relation
    assert relations(record) == {
        "migtissera/Tess-70B-v1.6": ("merge", "metadata"),
        "sophosympatheia/Midnight-Miqu-70B-v1.0": ("merge", "metadata"),
    }


def test_gguf_card_names_its_original_not_the_originals_base_nor_its_creator():
    record = card("hf-readme__TheBloke_zephyr-7B-beta-GGUF.md")
    text = record["card"]
    assert "fine-tuned version of [mistralai/Mistral-7B-v0.1]" in text  # in the appended card
    assert "Model creator: [Hugging Face H4](https://huggingface.co/HuggingFaceH4)" in text
    assert stated_base_models(record) == {"HuggingFaceH4/zephyr-7b-beta": "quantized"}
    # the YAML names the same base with no relation: the text's sentence gives it
    [entry] = base_model_relations([record])[record["modelId"]].values()
    assert entry == {
        "relation": "quantized",
        "source": "metadata",
        "relation_source": "card_text",
        "as_written": ["HuggingFaceH4/zephyr-7b-beta"],
    }


def test_static_quants_of_a_bare_url():
    record = card("hf-readme__mradermacher_MN-12B-Mag-Mell-R1-GGUF.md")
    assert stated_base_models(record) == {"inflatebot/MN-12B-Mag-Mell-R1": "quantized"}


def test_the_trainers_sentence_beats_a_hand_filled_field_naming_the_grandparent():
    record = card(
        "hf-readme__HuggingFaceH4_starchat2-15b-v0.1.md", "HuggingFaceH4/starchat2-15b-v0.1"
    )
    assert "**Finetuned from model:** [bigcode/starcoder2-15b]" in record["card"]
    assert stated_base_models(record) == {"HuggingFaceH4/starchat2-15b-sft-v0.1": "finetune"}
    assert stated_datasets(record) == [
        "HuggingFaceH4/orca_dpo_pairs",
        "HuggingFaceH4/ultrafeedback_binarized",
    ]


@pytest.mark.parametrize(
    ("name", "link"),
    [
        # "outperforms Meta AI's [Llama-3.1-8B-Instruct](https://huggingface.co/meta-llama/...)"
        (
            "hf-readme__akjindal53244_Llama-3.1-Storm-8B.md",
            "https://huggingface.co/meta-llama/Meta-Llama-3.1-8B-Instruct",
        ),
        # "a fine-tune checkpoint of [DistilBERT-base-uncased](...)": prose, not a tool sentence
        (
            "hf-readme__distilbert_distilbert-base-uncased-finetuned-sst-2-english.md",
            "https://huggingface.co/distilbert-base-uncased",
        ),
    ],
)
def test_a_link_elsewhere_in_a_card_is_not_a_base_model(name, link):
    record = card(name)
    assert link in record["card"]
    assert stated_base_models(record) == {}
    assert stated_datasets(record) == []


def test_card_text_is_used_only_when_the_metadata_names_none():
    intel = card("hf-readme__Intel_bert-base-uncased-mrpc.md")  # no base_model in its YAML
    assert relations(intel) == {"bert-base-uncased": ("finetune", "card_text")}
    deepmount = card("hf-readme__DeepMount00_Llama-3.1-8b-Ita.md")
    assert relations(deepmount) == {
        "meta-llama/Meta-Llama-3.1-8B-Instruct": ("finetune", "metadata")
    }


def test_on_the_replicas_real_cards_the_text_agrees_with_the_metadata():
    """Where a card served by the replica states a base model or dataset in a tool sentence,
    its metadata names the same (the 2020 cards predate the tools' templates and state none)."""
    stated = {}
    for model_id, repo in load_snapshot().models.items():
        record = {**repo.to_json(), "modelId": model_id, "card": repo.readme_text()}
        bases, datasets = stated_base_models(record), stated_datasets(record)
        if bases or datasets:
            stated[model_id] = bases
        assert set(bases) <= set(IDENTIFIERS["base_models"](record)), model_id
        assert set(datasets) <= set(IDENTIFIERS["datasets"](record)), model_id
    # zephyr-7b-beta: "... and is a fine-tuned version of [mistralai/Mistral-7B-v0.1](...)" (no
    # tool sentence, so the prose rule); the ORPO card: the Trainer's "This model is a ..."
    assert stated == {
        "HuggingFaceH4/zephyr-7b-beta": {"mistralai/Mistral-7B-v0.1": "finetune"},
        "HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1": {
            "mistral-community/Mixtral-8x22B-v0.1": "finetune"
        },
    }


# -- ids are checked before use ------------------------------------------------------------------


TRAINER = "This model is a fine-tuned version of [x]({url})."


@pytest.mark.parametrize(
    ("url", "bases"),
    [
        ("https://huggingface.co/org/name", ["org/name"]),
        ("https://hf.co/gpt2", ["gpt2"]),
        ("https://huggingface.co/org/name/tree/main", []),  # a page, not the repo
        ("https://huggingface.co/datasets/org/name", []),
        ("https://huggingface.co/org/na--me", []),  # `--` is not allowed in Hub ids
        ("https://huggingface.co/./checkpoint-10", []),
        ("https://example.com/org/name", []),
        ("https://huggingface.co/C:\\x", []),
    ],
)
def test_every_id_is_validated(url, bases):
    assert sorted(stated_base_models({"card": TRAINER.format(url=url)})) == bases


@pytest.mark.parametrize(
    ("name", "sentence"),
    [
        (
            "hf-readme__lightblue_suzume-llama-3-8B-multilingual.md",
            "on the above described dataset.",
        ),
        ("hf-readme__marieke93_MiniLM-evidence-types.md", "on the evidence types dataset."),
    ],
)
def test_prose_where_the_trainer_puts_a_name_is_no_dataset(name, sentence):
    record = card(name)
    assert sentence in record["card"] and not record["cardData"].get("datasets")
    assert stated_datasets(record) == []
    assert IDENTIFIERS["datasets"](record) == []


def test_a_quantisers_early_sentence_names_the_original_and_its_copied_card_is_not_read():
    """TheBloke's "GPTQ 4bit model for [X]"; the copy below "# ✨ Original model card" states
    its own base ("**Finetuned from model:** [Falcon-7B]"), which is not this model's."""
    record = card(
        "hf-readme__TheBloke_falcon-40b-instruct-GPTQ.md", "TheBloke/falcon-40b-instruct-GPTQ"
    )
    text = record["card"]
    assert "# ✨ Original model card: Falcon-40B-Instruct" in text
    assert "**Finetuned from model:** [Falcon-7B](https://huggingface.co/tiiuae/falcon-7b)" in text
    assert stated_base_models(record) == {"tiiuae/falcon-40b-instruct": "quantized"}


def test_thebloke_early_quantised_models_of():
    """TheBloke/stable-vicuna-13B-GPTQ (YinanWusoymilk/hf-readme, training_and_application/
    readme_files/TheBloke_stable-vicuna-13B-GPTQ.md at eb4de03f), line 33."""
    excerpt = (
        "This repo contains 4bit GPTQ format quantised models of [CarperAI's StableVicuna 13B]"
        "(https://huggingface.co/CarperAI/stable-vicuna-13b-delta)."
    )
    record = {"modelId": "TheBloke/stable-vicuna-13B-GPTQ", "card": excerpt}
    assert stated_base_models(record) == {"CarperAI/stable-vicuna-13b-delta": "quantized"}


def test_a_trainer_checkpoint_folder_is_no_base_model():
    """The Trainer saves to `<output_dir>/checkpoint-<step>` and writes the path it loaded from
    into the sentence as if it were a Hub id. Jeska/VaccinChatSentenceClassifierDutch_fromBERTje2_
    DAdialog (Wenxin-Jiang/CS577-NLP, project/model_cards/_train/Jeska_VaccinChatSentence
    ClassifierDutch_fromBERTje2_DAdialog_README.md at 17fb8ca9), line 16."""
    excerpt = (
        "This model is a fine-tuned version of [outputDA/checkpoint-7710]"
        "(https://huggingface.co/outputDA/checkpoint-7710) on an unknown dataset."
    )
    model_id = "Jeska/VaccinChatSentenceClassifierDutch_fromBERTje2_DAdialog"
    assert stated_base_models({"modelId": model_id, "card": excerpt}) == {}
    bare = "This model is a fine-tuned version of https://huggingface.co/outputDA/checkpoint-7710"
    assert stated_base_models({"modelId": model_id, "card": bare}) == {}


def test_a_peft_card_whose_metadata_names_the_base_is_an_adapter():
    """FinGPT/fingpt-forecaster_dow30_llama2-7b_lora's front matter, whole (YinanWusoymilk/
    hf-readme, training_and_application/readme_files/FinGPT_fingpt-forecaster_dow30_llama2-7b_
    lora.md at eb4de03f); its text states no base."""
    front_matter = (
        "library_name: peft\nbase_model: meta-llama/Llama-2-7b-chat-hf\nlicense: apache-2.0\n"
        "language:\n- en\n"
    )
    data = yaml.safe_load(front_matter)
    record = {"modelId": "FinGPT/fingpt-forecaster_dow30_llama2-7b_lora", "cardData": data}
    record |= {"card": f"---\n{front_matter}---\n## Training:\n", "tags": ["peft", "en"]}
    assert relations(record) == {"meta-llama/Llama-2-7b-chat-hf": ("adapter", "metadata")}
    # a relation the metadata states is kept
    merged = {**record, "cardData": {**data, "base_model_relation": "merge"}}
    assert relations(merged) == {"meta-llama/Llama-2-7b-chat-hf": ("merge", "metadata")}


def test_prose_about_another_model_names_no_base():
    """Shobhank-iiitdwd/BERT-xquad-tydiqa-goldp (Wenxin-Jiang/CS577-NLP, project/model_cards/
    _train/Shobhank-iiitdwd_BERT-xquad-tydiqa-goldp_README.md at 17fb8ca9), line 11: the
    sentence is about its base's own base."""
    excerpt = (
        "The base language model [(bert-multi-cased-finetuned-xquadv1)](https://huggingface.co/"
        "mrm8488/bert-multi-cased-finetuned-xquadv1) is a fine-tuned version of [bert-base-"
        "multilingual-cased](https://huggingface.co/bert-base-multilingual-cased) for the **Q&A**"
        " downstream task"
    )
    record = {"modelId": "Shobhank-iiitdwd/BERT-xquad-tydiqa-goldp", "card": excerpt}
    assert stated_base_models(record) == {}
    # The card's own statement still counts: the replica's zephyr-7b-beta ("Zephyr-7B-β is the
    # second model in the series, and is a fine-tuned version of [mistralai/Mistral-7B-v0.1]"),
    # in test_on_the_replicas_real_cards_the_text_agrees_with_the_metadata.


def test_a_prose_name_with_a_slash_is_no_dataset_id():
    """ "CNN/Dailymail" is how people write the CNN/Daily Mail corpus, not a Hub id. No card in
    the two mirrors puts it in the Trainer's sentence: this one is written here, under a
    made-up model id. An unlinked `org/name` counts when the card's metadata (the Trainer's
    model-index) names it too, or it is under the model's own account."""
    sentence = (
        "This model is a fine-tuned version of [facebook/bart-large](https://huggingface.co/"
        "facebook/bart-large) on the {} dataset."
    )
    made_up = {"modelId": "example-org/bart-cnn", "card": sentence.format("CNN/Dailymail")}
    assert stated_datasets(made_up) == []
    own = {"modelId": "CNN/bart-cnn", "card": sentence.format("CNN/Dailymail")}
    assert stated_datasets(own) == ["CNN/Dailymail"]
    # The Trainer's model-index names the id it was given. EdoAbati/whisper-medium-it-2
    # (Wenxin-Jiang/CS577-NLP, project/model_cards/_train/EdoAbati_whisper-medium-it-2_README.md
    # at 17fb8ca9), lines 18-21 of its front matter and line 35.
    dataset = {"name": "mozilla-foundation/common_voice_11_0 it"}
    dataset |= {"type": "mozilla-foundation/common_voice_11_0", "config": "it"}
    common_voice = {
        "modelId": "EdoAbati/whisper-medium-it-2",
        "card": "This model is a fine-tuned version of [openai/whisper-medium](https://"
        "huggingface.co/openai/whisper-medium) on the mozilla-foundation/common_voice_11_0 it"
        " dataset.",
        "cardData": {"model-index": [{"results": [{"dataset": dataset}]}]},
    }
    assert stated_datasets(common_voice) == ["mozilla-foundation/common_voice_11_0"]
