"""The identify stage's pure functions, on the real snapshot records and 2020 model cards.

Expected values are read off the JSON files and cards by hand and written here literally.
"""

from __future__ import annotations

import functools
import json
import re
from importlib.resources import files
from string import ascii_lowercase

import langcodes
import pytest
import yaml
from conftest import all_snapshot_records, snapshot_record
from test_card_text import card

from hfharvest.entities import KINDS
from hfharvest.identify import IDENTIFIERS, base_model_relations, identify_models
from hfharvest.identify.datasets import normalise_dataset
from hfharvest.identify.languages import normalise_language, not_languages
from hfharvest.identify.licenses import normalise_license
from hfharvest.identify.tasks import task_ids
from hfharvest.replica import DEFAULT_SNAPSHOT, load_snapshot

identify = IDENTIFIERS  # identify["languages"](record)

# Every `license:` value among the 35 API records, and what it must become.
LICENSE_TAGS = {
    "apache-2.0": "Apache-2.0",
    "bsd-3-clause": "BSD-3-Clause",
    "cc-by-4.0": "CC-BY-4.0",
    "creativeml-openrail-m": "creativeml-openrail-m",
    "llama3": "llama3",
    "llama3.1": "llama3.1",
    "mit": "MIT",
    "openrail++": "openrail++",
}
# Library, framework and model-type tags that occur in the snapshot's records.
SNAPSHOT_LIBRARY_TAGS = {
    *("albert", "bart", "bert", "blip", "clip", "coreml", "detr", "diffusers", "distilbert"),
    *("donut", "espnet", "gpt2", "jax", "llama", "mbart", "mistral", "mixtral", "onnx"),
    *("openvino", "pytorch", "roberta", "rust", "safetensors", "sentence-transformers"),
    *("speechbrain", "t5", "tapas", "tensorboard", "tf", "tflite", "transformers", "trl", "vilt"),
    *("vit", "wav2vec2"),
}
# Tags the system we replace read as ISO 639-3 languages, and more of their kind.
LIBRARY_TAGS = SNAPSHOT_LIBRARY_TAGS | {"ast", "git", "mlx", "opt", "flax", "keras", "peft", "timm"}


@functools.cache
def catalogue_records() -> dict[str, dict]:
    """Every replica model (35 API bodies + 184 card-derived) as our pipeline's record."""
    records = {}
    for model_id, repo in load_snapshot().models.items():
        record = repo.to_json()
        record["modelId"], record["card"] = model_id, repo.readme_text()
        records[model_id] = record
    return records


def record(model_id: str) -> dict:
    return catalogue_records()[model_id]


def values(tags: list[str], prefix: str) -> set[str]:
    return {tag.removeprefix(prefix) for tag in tags if tag.startswith(prefix)}


def test_one_identifier_per_entity_kind_and_one_for_the_models_own_ids():
    assert tuple(IDENTIFIERS) == (*KINDS, "identifiers")


# --- every prefixed tag of the 35 recorded API bodies -----------------------------------------


@pytest.mark.parametrize("body", all_snapshot_records(), ids=lambda body: body["id"])
def test_every_prefixed_tag_is_identified(body):
    tags = body["tags"]
    assert values(tags, "dataset:") <= set(identify["datasets"](body))
    dois = {f"doi:{doi.lower()}" for doi in values(tags, "doi:")}
    repository_dois = {doi for doi in dois if doi.startswith("doi:10.57967/hf/")}
    articles = {f"arxiv:{i}" for i in values(tags, "arxiv:")} | (dois - repository_dois)
    assert articles <= set(identify["articles"](body))
    assert not repository_dois & set(identify["articles"](body))
    assert repository_dois <= set(identify["identifiers"](body))
    bases = {tag.split(":")[-1] for tag in tags if tag.startswith("base_model:")}
    assert bases <= set(identify["base_models"](body))
    assert values(tags, "license:") <= set(LICENSE_TAGS), "a new licence: add it to LICENSE_TAGS"
    assert identify["licenses"](body) == sorted({LICENSE_TAGS[v] for v in values(tags, "license:")})


def test_bert_base_uncased():
    bert = record("google-bert/bert-base-uncased")
    assert identify["languages"](bert) == ["en"]
    assert identify["datasets"](bert) == ["bookcorpus", "wikipedia"]
    assert identify["articles"](bert) == ["arxiv:1810.04805"]  # tag, card link and BibTeX agree
    assert identify["licenses"](bert) == ["Apache-2.0"]
    assert identify["tasks"](bert) == ["fill-mask"]
    assert identify["base_models"](bert) == []
    keywords = identify["keywords"](bert)
    assert {"exbert", "pytorch", "safetensors"} <= set(keywords)
    system = {"region:us", "endpoints_compatible", "autotrain_compatible", "has_space"}
    claimed = {"en", "fill-mask", "license:apache-2.0", "dataset:wikipedia", "arxiv:1810.04805"}
    assert not (system | claimed) & set(keywords)


def test_zephyr_base_model_and_its_relation():
    zephyr = snapshot_record("HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1")
    assert identify["base_models"](zephyr) == ["mistral-community/Mixtral-8x22B-v0.1"]
    assert base_model_relations([zephyr]) == {
        "HuggingFaceH4/zephyr-orpo-141b-A35b-v0.1": {
            "mistral-community/Mixtral-8x22B-v0.1": {
                "relation": "finetune",
                "source": "metadata",
                "as_written": ["mistral-community/Mixtral-8x22B-v0.1"],
            }
        }
    }


def test_a_plain_tag_that_repeats_a_dataset_is_not_a_keyword():
    wav2vec = snapshot_record("jonatasgrosman/wav2vec2-large-xlsr-53-english")
    assert identify["datasets"](wav2vec) == ["common_voice", "mozilla-foundation/common_voice_6_0"]
    assert "mozilla-foundation/common_voice_6_0" not in identify["keywords"](wav2vec)
    assert identify["articles"](wav2vec) == []  # its only DOI is its own repository's


# --- languages ---------------------------------------------------------------------------------


def test_no_library_tag_becomes_a_language_in_the_whole_catalogue():
    readings = {langcodes.standardize_tag(t) for t in LIBRARY_TAGS if langcodes.tag_is_valid(t)}
    assert {"ast", "git", "jax", "opt", "trl"} <= readings  # what makes the trap real
    forbidden = LIBRARY_TAGS | readings
    for model_id, found in identify_models("languages", catalogue_records().values()).items():
        assert not forbidden & set(found), model_id


def test_library_tags_added_to_a_real_record_stay_keywords():
    bert = {**record("google-bert/bert-base-uncased")}
    bert["tags"] = [*bert["tags"], "ast", "git", "trl", "mlx", "opt", "ml", "sd"]
    assert identify["languages"](bert) == ["en"]
    assert {"ast", "git", "trl", "mlx", "opt", "ml", "sd"} <= set(identify["keywords"](bert))


def test_the_deny_list_covers_the_snapshots_library_tags():
    snapshot_tags = {tag.lower() for r in catalogue_records().values() for tag in r["tags"]}
    assert snapshot_tags >= SNAPSHOT_LIBRARY_TAGS  # the literal list is real data
    assert not_languages() >= LIBRARY_TAGS


@pytest.mark.parametrize(
    ("model_id", "card_says", "languages"),
    [
        ("DeepPavlov/rubert-base-cased", "russian", ["ru"]),
        (
            "DeepPavlov/bert-base-bg-cs-pl-ru-cased",
            "bulgarian, czech, polish, russian (list)",
            ["bg", "cs", "pl", "ru"],
        ),
        (
            "nlptown/bert-base-multilingual-uncased-sentiment",
            "english, dutch, german, french, italian, spanish",
            ["de", "en", "es", "fr", "it", "nl"],
        ),
        ("allenai/wmt16-en-de-dist-12-1", "en, de", ["de", "en"]),
        ("monologg/koelectra-small-generator", "Korean", ["ko"]),
        ("julien-c/EsperBERTo-small", "esperanto", ["eo"]),
        ("mrm8488/RoBasquERTa", "basque", ["eu"]),
        ("Geotrend/bert-base-en-fr-cased", "multilingual", ["mul"]),
        ("bert-base-multilingual-cased", "english (on a 104-language model)", ["en"]),
        ("huggingface/CodeBERTa-small-v1", "code", []),
        ("mrm8488/codeBERTaJS", "code", []),
        ("Helsinki-NLP/en-fr", "(no front matter)", []),
    ],
)
def test_languages_from_real_cards(model_id, card_says, languages):
    assert identify["languages"](record(model_id)) == languages


def test_language_names_mirrored_as_tags_are_not_keywords():
    rubert = record("DeepPavlov/rubert-base-cased")
    assert "russian" in rubert["tags"]  # the Hub copies `language:` values into the tags
    assert "russian" not in identify["keywords"](rubert)
    # `code` names no human language: no language, but it still says what the model is for.
    assert "code" in identify["keywords"](record("huggingface/CodeBERTa-small-v1"))


def test_mbart_keeps_every_declared_code():
    mbart = record("facebook/mbart-large-50-many-to-many-mmt")
    languages = identify["languages"](mbart)
    assert len(languages) == 53  # 52 codes + `multilingual`
    # `tl` stays Tagalog's ISO 639-1 code (CLDR would make it `fil`); `ml` is deny-listed as a
    # bare tag (machine learning) but the card declares Malayalam.
    assert {"tl", "ml", "mul"} <= set(languages)
    assert not {"tl", "ml", "multilingual", "translation"} & set(identify["keywords"](mbart))


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("en", "en"), ("eng", "en"), ("english", "en"), ("English", "en"), ("en-US", "en"),
        ("en_XX", "en"), ("cmn", "zh"), ("ger", "de"), ("iw", "he"), ("tagalog", "tl"),
        ("tl", "tl"), ("yue", "yue"), ("multilingual", "mul"), ("code", None), ("und", None),
        ("zxx", None), ("historic german", None), ("x-foo", None), ("", None), ("e" * 500, None),
    ],
)  # fmt: skip
def test_normalise_language(value, code):
    assert normalise_language(value) == code


def test_three_letter_tags_count_only_when_the_card_agrees():
    card_says_german = {"tags": ["deu", "fra"], "cardData": {"language": "german"}}
    assert identify["languages"](card_says_german) == ["de"]
    assert identify["languages"]({"tags": ["fr", "jax"], "cardData": None}) == ["fr"]


# Two-letter tags that are no ISO 639-1 code; a fuzzy name search reads `ci` as Akan, `qa` as
# Ga, `ir` as Iraqw, `ua` as Amahuaca, `ma` as Mbre, `pe` as Pe, `au` as Agta.
NOT_CODES = ["ci", "qa", "ir", "ua", "ma", "pe", "au"]


def test_two_letter_tags_that_are_no_language_code_stay_keywords():
    bert = {**record("google-bert/bert-base-uncased")}
    bert["tags"] = [*bert["tags"], *NOT_CODES]
    assert identify["languages"](bert) == ["en"]
    assert set(NOT_CODES) <= set(identify["keywords"](bert))
    assert [normalise_language(tag) for tag in NOT_CODES] == [None] * len(NOT_CODES)


def test_language_names_count_only_in_the_cards_language_field():
    assert identify["languages"]({"tags": ["russian", "Basque", "fr"]}) == ["fr"]
    assert identify["languages"]({"cardData": {"language": ["russian", "Basque"]}}) == ["eu", "ru"]


def test_the_two_letter_codes_langcodes_accepts_are_the_iso_639_1_registry():
    """What languages._is_iso_639_1 relies on: a two-letter tag langcodes accepts is one of the
    IANA registry's two-letter language subtags, which are ISO 639-1's codes."""
    registry = files("language_data").joinpath("data/language-subtag-registry.txt").read_text()
    two_letter = {
        re.search(r"Subtag: (\S+)", entry)[1]
        for entry in registry.split("%%")
        if "Type: language" in entry and re.search(r"Subtag: [a-z]{2}\n", entry)
    }
    accepted = {
        a + b for a in ascii_lowercase for b in ascii_lowercase if langcodes.tag_is_valid(a + b)
    }
    assert accepted == two_letter
    assert len(two_letter) == 190 and {"en", "tl", "iw", "yi"} <= two_letter
    assert not set(NOT_CODES) & two_letter


# --- articles ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "articles"),
    [
        # [Longformer](https://arxiv.org/abs/2004.05150) ... journal={arXiv:2004.05150}
        ("allenai/longformer-base-4096", ["arxiv:2004.05150"]),
        # [DeBERTa](https://arxiv.org/abs/2006.03654) ... eprint={2006.03654}
        ("microsoft/DeBERTa-base", ["arxiv:2006.03654"]),
        # arXiv preprint [arXiv:1905.07213](https://arxiv.org/abs/1905.07213)
        ("DeepPavlov/rubert-base-cased", ["arxiv:1905.07213"]),
        # [XLM-R-base](https://arxiv.org/abs/1911.02116) ... volume = {arXiv:2005.10200}
        ("vinai/bertweet-base", ["arxiv:1911.02116", "arxiv:2005.10200"]),
        # volume = {abs/1910.11856} ... eprint = {1910.11856}
        ("mrm8488/bert-multi-cased-finetuned-xquadv1", ["arxiv:1910.11856"]),
        # url = {http://arxiv.org/abs/1909.09436} ... note = {arXiv: 1909.09436}
        ("huggingface/CodeBERTa-small-v1", ["arxiv:1909.09436"]),
        # (https://onlinelibrary.wiley.com/doi/full/10.1002/minf.201700111)
        ("mrm8488/chEMBL_smiles_v1", ["doi:10.1002/minf.201700111"]),
    ],
)
def test_articles_found_in_card_text_without_tags(model_id, articles):
    model = record(model_id)
    assert not any(tag.startswith(("arxiv:", "doi:")) for tag in model["tags"])
    assert identify["articles"](model) == articles


@pytest.mark.parametrize(
    ("text", "articles"),
    [
        ("see https://arxiv.org/abs/1810.04805v2.", ["arxiv:1810.04805"]),
        ("[pdf](https://arxiv.org/pdf/1810.04805.pdf)", ["arxiv:1810.04805"]),
        ("https://arxiv.org/html/2403.07691v2#S3", ["arxiv:2403.07691"]),
        ("https://huggingface.co/papers/2305.18290", ["arxiv:2305.18290"]),
        ("arXiv:0704.0001 and ARXIV: 1501.00001", ["arxiv:0704.0001", "arxiv:1501.00001"]),
        ("  eprint = {1910.01108},\n  archivePrefix = {arXiv}", ["arxiv:1910.01108"]),
        ("http://arxiv.org/abs/hep-th/9901001v3", ["arxiv:hep-th/9901001"]),
        ("arXiv:cs.CL/0101001", ["arxiv:cs.CL/0101001"]),
        ("https://arxiv.org/abs/math.GT/0309136", ["arxiv:math.GT/0309136"]),
        ('eprint = "hep-th/9901001"', ["arxiv:hep-th/9901001"]),
        # as real cards cite without the colon (OpenOrca-Platypus2-13B's BibTeX, MiniCPM's,
        # jhgan/ko-sroberta-multitask's Semantic Scholar line)
        ("  eprint= arXiv 2307.09288,", ["arxiv:2307.09288"]),
        ("journal={arXiv preprint 2408.01800},", ["arxiv:2408.01800"]),
        ("Networks.” ArXiv abs/1908.10084 (2019)", ["arxiv:1908.10084"]),
        ("https://doi.org/10.48550/arXiv.2106.09685", ["arxiv:2106.09685"]),
        ("(https://doi.org/10.1145/3442188.3445922).", ["doi:10.1145/3442188.3445922"]),
        ("doi = {10.18653/v1/N19-1423},", ["doi:10.18653/v1/n19-1423"]),
        ("DOI: 10.1000/XYZ;", ["doi:10.1000/xyz"]),
        ("(doi:10.1016/S0140-6736(20)30183-5)", ["doi:10.1016/s0140-6736(20)30183-5"]),
        # Numbers that only look like ids, outside any arXiv or DOI context:
        ("transformers 4.40.2, trained 2103.00020 steps; hep-th/9901001", []),
        ("version 2020.12345 of 10.1000/xyz", []),
        ("arxiv.org/abs/2213.00001", []),  # month 13
        ("on arXiv 2023.", []),
    ],
)
def test_articles_in_text(text, articles):
    assert identify["articles"]({"card": text}) == articles


def test_article_tags_are_normalised():
    tags = ["arxiv:1810.04805v2", "doi:10.1145/3442188.3445922.", "arxiv:not-an-id"]
    assert identify["articles"]({"tags": tags}) == [
        "arxiv:1810.04805",
        "arxiv:not-an-id",  # kept: the Hub minted it, enrichment reports it
        "doi:10.1145/3442188.3445922",
    ]


# --- the model's own identifiers --------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "identifiers"),
    [
        (
            "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
            [
                "doi:10.57967/hf/0181",
                "https://huggingface.co/distilbert/distilbert-base-uncased-finetuned-sst-2-english",
            ],
        ),
        ("gpt2", ["doi:10.57967/hf/0039", "https://huggingface.co/gpt2"]),
        (
            "jonatasgrosman/wav2vec2-large-xlsr-53-english",
            [
                "doi:10.57967/hf/3569",
                "https://huggingface.co/jonatasgrosman/wav2vec2-large-xlsr-53-english",
            ],
        ),
        ("google-bert/bert-base-uncased", ["https://huggingface.co/google-bert/bert-base-uncased"]),
    ],
)
def test_a_repository_doi_is_the_models_own_identifier_never_an_article(model_id, identifiers):
    body = snapshot_record(model_id)
    assert identify["identifiers"](body) == identifiers
    assert not [a for a in identify["articles"](body) if a.startswith("doi:10.57967/")]


def test_a_repository_doi_in_the_card_text():
    # The Hub's "Cite this model" BibTeX: url = { https://huggingface.co/<the model> }, doi = ...
    storm = card(
        "hf-readme__akjindal53244_Llama-3.1-Storm-8B.md", "akjindal53244/Llama-3.1-Storm-8B"
    )
    assert identify["identifiers"](storm) == [
        "doi:10.57967/hf/2902",
        "https://huggingface.co/akjindal53244/Llama-3.1-Storm-8B",
    ]
    assert "doi:10.57967/hf/2902" not in identify["articles"](storm)
    # The same card read as another model's: the DOI is not that model's.
    assert identify["identifiers"]({**storm, "modelId": "akjindal53244/Llama-3.1-Storm"}) == [
        "https://huggingface.co/akjindal53244/Llama-3.1-Storm"
    ]
    # A card citing another model's repository DOI (bertabaporu's): not its own, not an article.
    senti = card(
        "hf-readme__pysentimiento_bertweet-pt-sentiment.md", "pysentimiento/bertweet-pt-sentiment"
    )
    assert "10.57967/hf/0019" in senti["card"]
    assert identify["identifiers"](senti) == [
        "https://huggingface.co/pysentimiento/bertweet-pt-sentiment"
    ]
    assert not [a for a in identify["articles"](senti) if "10.57967" in a]


def test_no_identifiers_for_an_invalid_id():
    assert (
        identify["identifiers"]({"modelId": "not a/valid id", "tags": ["doi:10.57967/hf/1"]}) == []
    )


# --- datasets ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "datasets"),
    [
        # datasets: [http://www.statmt.org/wmt16/ ([test-set](http://matrix.statmt.org/...))]
        ("allenai/wmt16-en-de-dist-12-1", ["http://www.statmt.org/wmt16/"]),
        ("uer/chinese_roberta_L-2_H-128", ["CLUECorpus"]),  # datasets: CLUECorpus (a string)
        ("cahya/bert-base-indonesian-522M", ["Indonesian Wikipedia"]),  # free text, kept
        ("sentence-transformers/bert-base-nli-cls-token", ["MultiNLI", "SNLI"]),  # case kept
    ],
)
def test_datasets_from_real_cards(model_id, datasets):
    assert identify["datasets"](record(model_id)) == datasets


ULTRACHAT = "HuggingFaceH4/ultrachat_200k"


@pytest.mark.parametrize(
    ("value", "dataset"),
    [
        ("  squad_v2 ", "squad_v2"),
        ("HuggingFaceH4/ultrachat_200k", "HuggingFaceH4/ultrachat_200k"),
        ("https://huggingface.co/datasets/HuggingFaceH4/ultrachat_200k", ULTRACHAT),
        ("https://hf.co/datasets/squad/tree/main", "squad"),
        ("huggingface.co/datasets/allenai/c4/viewer/en", "allenai/c4"),
        ("[UltraChat](https://huggingface.co/datasets/HuggingFaceH4/ultrachat_200k)", ULTRACHAT),
        ("[WMT 16](http://www.statmt.org/wmt16/)", "WMT 16"),
        ("", None),
    ],
)  # fmt: skip
def test_normalise_dataset(value, dataset):
    assert normalise_dataset(value) == dataset


# --- licences ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "licenses"),
    [
        ("allenai/wmt16-en-de-dist-12-1", ["Apache-2.0"]),  # license: Apache 2.0
        ("valhalla/t5-base-qa-qg-hl", ["MIT"]),  # license: "MIT"
        ("cahya/bert-base-indonesian-522M", ["MIT"]),  # license: "mit"
        ("DeepPavlov/rubert-base-cased", []),
    ],
)
def test_licenses_from_real_cards(model_id, licenses):
    assert identify["licenses"](record(model_id)) == licenses


@pytest.mark.parametrize(
    ("value", "spdx"),
    [
        ("apache-2.0", ("Apache-2.0",)), ("Apache 2.0", ("Apache-2.0",)),
        ("apache license 2.0", ("Apache-2.0",)), ("Apache License, Version 2.0", ("Apache-2.0",)),
        ("mit", ("MIT",)), ("MIT", ("MIT",)), ("cc-by-4.0", ("CC-BY-4.0",)),
        ("bsd-3-clause", ("BSD-3-Clause",)), ("gpl-3.0", ("GPL-3.0-only",)),
        ("odbl", ("ODbL-1.0",)), ("MIT OR Apache-2.0", ("Apache-2.0", "MIT")),
        ("openrail", ("openrail",)), ("bigscience-openrail-m", ("bigscience-openrail-m",)),
        ("creativeml-openrail-m", ("creativeml-openrail-m",)), ("llama2", ("llama2",)),
        ("llama3", ("llama3",)), ("Llama3.1", ("llama3.1",)), ("gemma", ("gemma",)),
        ("other", ("other",)), ("bsd", ("bsd",)), ("gpl", ("gpl",)), ("", ()),
    ],
)  # fmt: skip
def test_normalise_license(value, spdx):
    assert normalise_license(value) == spdx


def test_other_licence_takes_its_name():
    model = {"tags": ["license:other"], "cardData": {"license": "other", "license_name": "Qwen"}}
    assert identify["licenses"](model) == ["qwen"]
    assert identify["licenses"]({"cardData": {"license": "mit", "license_name": "x"}}) == ["MIT"]


# --- tasks and keywords ------------------------------------------------------------------------


def test_task_table_is_the_bundled_hub_copy():
    shipped = json.loads((DEFAULT_SNAPSHOT / "tasks" / "pipelines.json").read_text())
    assert len(shipped) == 57
    assert task_ids() == set(shipped) - {"other"}


def test_tasks():
    flan = snapshot_record("google/flan-t5-large")  # pipeline_tag: text2text-generation
    assert identify["tasks"](flan) == ["text2text-generation"]  # kept though the table dropped it
    blip = snapshot_record("Salesforce/blip-image-captioning-base")
    assert identify["tasks"](blip) == ["image-text-to-text", "image-to-text"]
    odd = {
        "pipeline_tag": "other",
        "tags": ["sentiment-analysis"],
        "cardData": {"pipeline_tag": "x"},
    }
    assert identify["tasks"](odd) == []
    assert identify["keywords"](odd) == ["sentiment-analysis"]  # a subtask type stays a keyword


def test_legacy_task_ids_the_hub_still_serves_are_tasks_not_keywords():
    t5 = snapshot_record("google-t5/t5-small")  # pipeline_tag translation; tags the older ids
    assert identify["tasks"](t5) == ["summarization", "text2text-generation", "translation"]
    assert "text2text-generation" not in identify["keywords"](t5)
    zephyr = snapshot_record("HuggingFaceH4/zephyr-7b-beta")
    assert identify["tasks"](zephyr) == ["conversational", "text-generation"]


def test_keywords_drop_hub_system_tags_and_keep_library_tags():
    tags = [
        *("region:us", "endpoints_compatible", "autotrain_compatible", "has_space"),
        *("text-generation-inference", "deploy:azure", "template:diffusion-lora"),
        *("inference:warm", "eval-results", "model-index", "license:mit", "base_model:a/b"),
        *("custom_code", "pytorch", "Safetensors", "4-bit", "pytorch"),
    ]
    model = {"tags": tags, "cardData": {"tags": ["COVID-19", 2020, None]}}
    keywords = ["2020", "4-bit", "COVID-19", "Safetensors", "custom_code", "pytorch"]
    assert identify["keywords"](model) == keywords


def test_keywords_never_hold_claimed_or_system_tags_in_the_catalogue():
    claimed = ("dataset:", "arxiv:", "doi:", "base_model:", "license:", "region:")
    for model_id, keywords in identify_models("keywords", catalogue_records().values()).items():
        assert not [k for k in keywords if k.startswith(claimed) or k.endswith("_compatible")]
        assert not set(keywords) & task_ids(), model_id


# --- base models -------------------------------------------------------------------------------


def test_base_models_are_valid_ids_other_than_the_model_itself():
    model = {
        "modelId": "me/model",
        "tags": ["base_model:me/model", "base_model:adapter:org/base", "base_model:not a/valid id"],
        "cardData": {"base_model": ["https://huggingface.co/org/other", "x/y/z"]},
    }
    assert identify["base_models"](model) == ["org/base", "org/other"]
    relations = base_model_relations([model])["me/model"]
    assert {base: entry["relation"] for base, entry in relations.items()} == {
        "org/base": "adapter",
        "org/other": "base_model",
    }
    assert relations["org/other"]["as_written"] == ["org/other"]  # the URL, as an id


# --- the whole catalogue, and odd input --------------------------------------------------------


@pytest.mark.parametrize("kind", IDENTIFIERS)
def test_identify_models_lists_every_model(kind):
    found = identify_models(kind, [*catalogue_records().values(), {"no": "id"}, None])
    assert list(found) == sorted(catalogue_records())
    assert all(isinstance(v, list) and v == sorted(set(v)) for v in found.values())


def test_identify_models_rejects_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown entity kind"):
        identify_models("spaces", [])


ODD_RECORDS = [
    None,
    "a string",
    {},
    {"id": 5, "modelId": None, "tags": None, "cardData": None, "card": None},
    {"modelId": "a/b", "cardData": "license: mit", "tags": "en"},
    {"modelId": "a/b", "cardData": ["language", "en"], "tags": [1, None, 2.5, ["en"], True]},
    {
        "modelId": "a/b",
        "pipeline_tag": ["fill-mask"],
        "card": b"arxiv.org/abs/1810.04805",
        "cardData": {
            "language": {"en": 1},
            "license": [None, 3, {"a": 1}, "(", "MIT AND ("],
            "license_name": ["x"],
            "datasets": 5,
            "tags": [None, {"a": 1}],
            "base_model": {"a": "b"},
            "base_model_relation": ["finetune"],
            "pipeline_tag": 7,
        },
    },
    {"modelId": "a/b", "tags": ["base_model:http://[::1", "base_model:", "license:", "dataset:"]},
    {"modelId": "a/b", "cardData": {"language": ["\x00", "en-", "😀", "x" * 100_000 + ", en"]}},
]


@pytest.mark.parametrize("kind", IDENTIFIERS)
@pytest.mark.parametrize("odd", ODD_RECORDS, ids=lambda odd: repr(odd)[:40])
def test_odd_records_never_raise(kind, odd):
    assert isinstance(identify[kind](odd), list)


def test_odd_values_read_as_far_as_they_make_sense():
    model = {"modelId": "a/b", "cardData": "en", "tags": [1, None, "en", "pytorch", {"a": 1}]}
    assert identify["languages"](model) == ["en"]
    assert identify["keywords"](model) == ["pytorch"]
    assert identify["languages"](ODD_RECORDS[-1]) == ["en"]


def test_a_20_mb_card_is_scanned_only_in_its_first_megabyte():
    filler = "x" * 1023 + "\n"
    card = "arxiv.org/abs/1810.04805\n" + filler * 2048 + "arxiv.org/abs/2106.09685\n"
    model = {"modelId": "a/b", "card": card + filler * 18_000}
    assert len(model["card"]) > 20_000_000
    for kind in KINDS:
        identify[kind](model)
    assert identify["articles"](model) == ["arxiv:1810.04805"]


def test_a_programming_language_in_the_cards_language_list_is_no_language():
    """JavaBERT's `language: [java, code]`: langcodes' name search reads `java` as Javanese."""
    javabert = card("cs577__CAUKiel_JavaBERT-uncased_README.md", "CAUKiel/JavaBERT-uncased")
    assert javabert["cardData"]["language"] == ["java", "code"]
    assert normalise_language("java") == "jv"  # what the name search alone would say
    assert identify["languages"](javabert) == []
    # `lua` is also Luba-Lulua's ISO 639-3 code: a programming language only beside `code`.
    assert identify["languages"]({"cardData": {"language": ["lua", "code"]}}) == []
    assert identify["languages"]({"cardData": {"language": ["lua", "fr"]}}) == ["fr", "lua"]


def test_norwegian_read_as_false_by_yaml_1_1_is_still_norwegian():
    """XLM-R's card lists `- no`; PyYAML's safe_load (YAML 1.1) reads it as false."""
    ner = card("hf-readme__51la5_roberta-large-NER.md", "51la5/roberta-large-NER")
    listed = ner["cardData"]["language"]
    assert len(listed) == 94 and False in listed and "no" not in listed
    languages = identify["languages"](ner)
    assert "no" in languages and len(languages) == 94


def test_a_doi_link_followed_by_markdown_punctuation():
    """pyannote's "[this paper](https://doi.org/10.1016/j.csl.2021.101254)):"."""
    pipeline = card("cs577__anilbs_pipeline_README.md", "anilbs/pipeline")
    assert "(https://doi.org/10.1016/j.csl.2021.101254)):" in pipeline["card"]
    assert identify["articles"](pipeline) == ["arxiv:2012.01477", "doi:10.1016/j.csl.2021.101254"]


def test_a_dataset_value_past_any_name_or_link_is_no_dataset():
    """A 160 000-space value took the link patterns 45 s (their time is quadratic in length):
    a value over 1 000 characters is prose or data, read as no dataset, before any pattern."""
    assert normalise_dataset("a" + " " * 160_000 + "b") is None
    assert normalise_dataset("[squad](https://huggingface.co/datasets/" + "x" * 990 + ")") is None
    assert normalise_dataset("https://huggingface.co/datasets/rajpurkar/squad") == "rajpurkar/squad"


def test_autotrains_unk_placeholder_is_no_language():
    """AutoTrain writes `language: [unk]` when no language was chosen; `unk` is also the ISO
    639-3 code of Enawené-Nawé, which langcodes would return. Real front matter of
    Abdulkader/autotrain-medical-reports-summarizer-2484176581 (Wenxin-Jiang/CS577-NLP,
    project/model_cards/_noArch/Abdulkader_autotrain-medical-reports-summarizer-2484176581_README.md
    at 17fb8ca9)."""
    front_matter = (
        "tags:\n- autotrain\n- summarization\nlanguage:\n- unk\n"
        'widget:\n- text: "I love AutoTrain 🤗"\n'
        "datasets:\n- Abdulkader/autotrain-data-medical-reports-summarizer\n"
    )
    data = yaml.safe_load(front_matter)
    model = {"modelId": "Abdulkader/autotrain-medical-reports-summarizer-2484176581"}
    model |= {"cardData": data, "tags": [*data["tags"], "unk"]}
    assert identify["languages"](model) == []
    # ISO 639-2's "uncoded languages" says as little; "multiple languages" says something.
    assert [normalise_language(code) for code in ("unk", "UNK", "mis", "mul")] == [
        None, None, None, "mul"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("model_id", "excerpt", "articles"),
    [
        # StanfordAIMI/stanford-deidentifier-base's BibTeX (YinanWusoymilk/hf-readme,
        # training_and_application/readme_files/StanfordAIMI_stanford-deidentifier-base.md at
        # eb4de03f): OUP's PDF link goes on with the article number and file after the DOI.
        (
            "StanfordAIMI/stanford-deidentifier-base",
            "    doi = {10.1093/jamia/ocac219},\n    url = {https://doi.org/10.1093/jamia/ocac219},\n"
            "    note = {ocac219},\n    eprint = {https://academic.oup.com/jamia/advance-article-"
            "pdf/doi/10.1093/jamia/ocac219/47220191/ocac219.pdf},\n}",
            ["doi:10.1093/jamia/ocac219"],
        ),
        # Dizex/FoodBaseBERT-NER (Wenxin-Jiang/CS577-NLP, project/model_cards/_train/
        # Dizex_FoodBaseBERT-NER_README.md at 17fb8ca9): OUP's article page, its number after.
        (
            "Dizex/FoodBaseBERT-NER",
            "fine-tuned on the [FoodBase NER](https://academic.oup.com/database/article/doi/"
            "10.1093/database/baz121/5611291) dataset.",
            ["doi:10.1093/database/baz121"],
        ),
        # No model card in the two mirrors has a Zenodo badge or a `/pdf` page link: these two
        # are written here, in the shapes Zenodo's badge snippet and Wiley's links have.
        (
            "example-org/zenodo-badge",
            "[![DOI](https://zenodo.org/badge/DOI/10.5281/zenodo.1234567.svg)]"
            "(https://doi.org/10.5281/zenodo.1234567)",
            ["doi:10.5281/zenodo.1234567"],
        ),
        (
            "example-org/pdf-page",
            "[pdf](https://onlinelibrary.wiley.com/doi/10.1002/minf.201700111/full/pdf) and "
            "[abstract](https://onlinelibrary.wiley.com/doi/10.1002/minf.201700111/abstract)",
            ["doi:10.1002/minf.201700111"],
        ),
    ],
)
def test_a_doi_in_a_url_ends_where_the_doi_does(model_id, excerpt, articles):
    assert identify["articles"]({"modelId": model_id, "card": excerpt}) == articles


def test_a_bibtex_escaped_underscore_stays_in_the_doi():
    """BibTeX exports write `_` as `{\\_}` or `\\_`; the DOI pattern has no `\\` nor `{`, so it
    ended there. No model card in the two mirrors of tests/data/cards has one: the U-Net
    chapter's DOI as reference managers export it, under a made-up model id."""
    for escaped in ("{\\_}", "\\_"):
        excerpt = f"  doi = {{10.1007/978-3-319-24574-4{escaped}28}},"
        model = {"modelId": "example-org/unet-citing", "card": excerpt}
        assert identify["articles"](model) == ["doi:10.1007/978-3-319-24574-4_28"]


def test_a_licence_placeholder_is_no_licence():
    """Meowren/CapBot's front matter is the Hub's old card template, unfilled (Wenxin-Jiang/
    CS577-NLP, project/model_cards/_train/Meowren_CapBot_README.md at 17fb8ca9)."""
    front_matter = 'license: "any valid license identifier"\ndatasets:\n- dataset1\n- dataset2\n'
    capbot = {"modelId": "Meowren/CapBot", "cardData": yaml.safe_load(front_matter)}
    assert identify["licenses"](capbot) == []
    # `license: ???`: no card in the two mirrors has it; a made-up model id.
    unsure = {"modelId": "example-org/unsure", "cardData": {"license": "???"}}
    assert identify["licenses"](unsure) == []
    assert [normalise_license(value) for value in ("???", "-", "[More Information Needed]")] == [
        (), (), ()
    ]  # fmt: skip
    assert normalise_license("unknown") == ("unknown",)  # a Hub licence id: kept


# Real front matter (Wenxin-Jiang/CS577-NLP, project/model_cards/ at 17fb8ca9): ISO 639-1 codes
# written for a country. `kr` is Kanuri and `ch` Chamorro in ISO 639-1, `dz` Dzongkha.
_CS577 = "project/model_cards/"


@pytest.mark.parametrize(
    ("model_id", "front_matter", "text", "languages"),
    [
        # _noArch/eesungkim_stt_kr_conformer_transducer_large_README.md: Korean speech (KsponSpeech)
        (
            "eesungkim/stt_kr_conformer_transducer_large",
            "language:\n- kr\nlicense: cc-by-4.0\nlibrary_name: nemo\ndatasets:\n- Ksponspeech\n",
            "## Model Overview\n",
            ["ko"],
        ),
        # _noArch/tensorspeech_tts-mb_melgan-baker-ch_README.md: Chinese speech (Baker)
        (
            "tensorspeech/tts-mb_melgan-baker-ch",
            "tags:\n- tensorflowtts\n- audio\nlanguage: ch\nlicense: apache-2.0\n"
            "datasets:\n- Baker\n",
            "# Multi-band MelGAN trained on Baker (Chinese)\n",
            ["zh"],
        ),
        # _train/alger-ia_dziribert_README.md: `[ar, dz]`, Algerian Arabic (arq)
        (
            "alger-ia/dziribert",
            "language: \n- ar\n- dz\n\ntags:\n- pytorch\n- bert\n- multilingual\n- ar\n- dz\n",
            "# DziriBERT\n",
            ["ar", "arq"],
        ),
    ],
)
def test_a_country_code_in_a_short_language_list_is_the_countrys_language(
    model_id, front_matter, text, languages
):
    data = yaml.safe_load(front_matter)
    model = {"modelId": model_id, "cardData": data, "card": text}
    model["tags"] = [*data.get("tags", []), *strings_of(data["language"])]
    assert identify["languages"](model) == languages
    assert identify["keywords"](model) == sorted(
        tag for tag in data.get("tags", []) if tag not in ("ar", "dz")
    )  # the codes are language tags, not keywords


def strings_of(value) -> list[str]:
    return value if isinstance(value, list) else [value]


def test_the_iso_languages_of_country_codes_stay_where_the_card_says_so():
    """A card naming Dzongkha, or a long list of languages (real ones: MMS, NLLB, MADLAD list
    `kr` and `ch` among hundreds), keeps the ISO reading. Synthetic ids: no real card with a
    lone `dz` was found."""
    card = "A speech recogniser for Dzongkha, the national language of Bhutan."
    dzongkha = {"modelId": "example-org/asr-dz", "cardData": {"language": ["dz"]}, "card": card}
    assert identify["languages"](dzongkha) == ["dz"]
    many = {"modelId": "example-org/mt", "cardData": {"language": ["en", "fr", "kr", "ch", "ko"]}}
    assert identify["languages"](many) == ["ch", "en", "fr", "ko", "kr"]
    both = {"modelId": "example-org/ko", "cardData": {"language": ["ko", "kr"]}}
    assert identify["languages"](both) == ["ko"]  # `kr` beside `ko`: Korea, already listed


@pytest.mark.parametrize(
    ("model_id", "excerpt", "articles"),
    [
        # Wenxin-Jiang/CS577-NLP at 17fb8ca9, project/model_cards/_noArch/noharm-ai_anony_
        # README.md, line 14: Springer's chapter page.
        (
            "noharm-ai/anony",
            "The [NoHarm-Anony - De-Identification of Clinical Notes Using Contextualized Language"
            " Models and a Token Classifier](https://link.springer.com/chapter/10.1007/978-3-030-"
            "91699-2_3) paper contains Flair-based models",
            ["doi:10.1007/978-3-030-91699-2_3"],
        ),
        # the same, _noArch/jglaser_protein-ligand-mlp-1_README.md, line 75: bioRxiv's page of
        # version 1 (`v1` is no part of the DOI).
        (
            "jglaser/protein-ligand-mlp-1",
            "Find more information in our [bioRxiv preprint](https://www.biorxiv.org/content/"
            "10.1101/2021.12.10.471928v1)",
            ["doi:10.1101/2021.12.10.471928"],
        ),
        # the same, _noArch/optimum_all-MiniLM-L6-v2_README.md, line 137: `/` URL-encoded.
        (
            "optimum/all-MiniLM-L6-v2",
            "| [COCO](https://cocodataset.org/#home) Image captions | [paper](https://link."
            "springer.com/chapter/10.1007%2F978-3-319-10602-1_48) | 828,395|",
            ["doi:10.1007/978-3-319-10602-1_48"],
        ),
        # the same, _noArch/flair_ner-german-legal_README.md, line 160: the PDF file.
        (
            "flair/ner-german-legal",
            "  pdf = {https://link.springer.com/content/pdf/10.1007%2F978-3-030-33220-4_20.pdf}}",
            ["doi:10.1007/978-3-030-33220-4_20"],
        ),
        # YinanWusoymilk/hf-readme at eb4de03f, training_and_application/readme_files/
        # ZhengPeng7_BiRefNet.md, line 32: SciOpen's PDF.
        (
            "ZhengPeng7/BiRefNet",
            "  <a href='https://www.sciopen.com/article/pdf/10.26599/AIR.2024.9150038.pdf'>",
            ["doi:10.26599/air.2024.9150038"],
        ),
        # CS577-NLP, _train/LukasStankevicius_ByT5-Lithuanian-gec-100h_README.md, line 39:
        # Springer's BibTeX export keys the entry by its DOI (and has no `doi` field).
        (
            "LukasStankevicius/ByT5-Lithuanian-gec-100h",
            "``` latex\n@InProceedings{10.1007/978-3-031-09076-9_44,\nauthor=",
            ["doi:10.1007/978-3-031-09076-9_44"],
        ),
    ],
)
def test_a_doi_in_a_publishers_url_path(model_id, excerpt, articles):
    assert identify["articles"]({"modelId": model_id, "card": excerpt}) == articles


def test_a_url_path_with_no_doi_names_no_article():
    excerpt = "see http://10.1234.5.6/x and https://example.org/v/10.12/x and 2021.12.10.471928"
    assert identify["articles"]({"modelId": "example-org/no-doi", "card": excerpt}) == []


@pytest.mark.parametrize(
    ("model_id", "front_matter", "languages"),
    [
        # Wenxin-Jiang/CS577-NLP at 17fb8ca9, project/model_cards/_train/TransQuest_
        # monotransquest-hter-de_en-pharmaceutical_README.md: a translation pair, lines 2-7
        (
            "TransQuest/monotransquest-hter-de_en-pharmaceutical",
            "language: de-en\ntags:\n- Quality Estimation\n- monotransquest\n- hter\n"
            "license: apache-2.0\n",
            ["de", "en"],
        ),
        # the same, _noArch/facebook_xm_transformer_600m-en_zh-multi_domain_README.md, lines
        # 2-10 (the card: "English-Chinese")
        (
            "facebook/xm_transformer_600m-en_zh-multi_domain",
            "library_name: fairseq\ntask: audio-to-audio\ntags:\n- fairseq\n- audio\n"
            "- audio-to-audio\n- speech-to-speech-translation\nlanguage: en-zh\n",
            ["en", "zh"],
        ),
    ],
)
def test_two_language_codes_joined_by_a_hyphen_are_both_languages(
    model_id, front_matter, languages
):
    """`de-en` and `en-zh` are no language tags (`en` and `zh` are no regions): they were
    dropped whole. A pair that is also a locale (`en-de`, English in Germany) keeps its tag's
    reading, as `pt-br` and `fr-ca` must."""
    data = yaml.safe_load(front_matter)
    model = {"modelId": model_id, "cardData": data, "tags": [*data["tags"], data["language"]]}
    assert identify["languages"](model) == languages
    assert data["language"] not in identify["keywords"](model)
    locales = {"modelId": "example-org/locales", "cardData": {"language": ["pt-br", "fr-ca"]}}
    assert identify["languages"](locales) == ["fr", "pt"]


def test_a_tag_in_capitals_is_an_acronym_not_a_language_code():
    """TransQuest's `DA` is direct assessment, not Danish: front matter of TransQuest/
    monotransquest-da-ru_en-reddit_wikiquotes (Wenxin-Jiang/CS577-NLP at 17fb8ca9,
    project/model_cards/_train/TransQuest_monotransquest-da-ru_en-reddit_wikiquotes_README.md,
    lines 2-7). Over 28 542 real cards no tag in capitals was a language the card did not
    declare (QA, RE, QG, AI too); one the card declares still counts."""
    front_matter = "language: ru-en\ntags:\n- Quality Estimation\n- monotransquest\n- DA\n"
    data = yaml.safe_load(front_matter + "license: apache-2.0\n")
    model = {"modelId": "TransQuest/monotransquest-da-ru_en-reddit_wikiquotes", "cardData": data}
    assert identify["languages"](model) == ["en", "ru"]
    assert "DA" in identify["keywords"](model)
    declared = {"modelId": "example-org/da", "cardData": {"language": "da", "tags": ["DA"]}}
    assert identify["languages"](declared) == ["da"]
    assert identify["keywords"](declared) == []


@pytest.mark.parametrize(
    ("model_id", "front_matter", "keywords"),
    [
        # Wenxin-Jiang/CS577-NLP at 17fb8ca9, project/model_cards/_train/GermanT5_t5-efficient-
        # gc4-all-german-large-nl36_README.md, lines 2-7: the name in English and its autonym
        (
            "GermanT5/t5-efficient-gc4-all-german-large-nl36",
            "language: de\nlicense: mit\ntags:\n- german\n- deutsch\n",
            [],
        ),
        # the same, _train/KoichiYasuoka_bert-base-thai-upos_README.md, lines 2-13
        (
            "KoichiYasuoka/bert-base-thai-upos",
            'language:\n- "th"\ntags:\n- "thai"\n- "token-classification"\n- "pos"\n'
            '- "wikipedia"\n- "dependency-parsing"\ndatasets:\n- "universal_dependencies"\n'
            'license: "apache-2.0"\npipeline_tag: "token-classification"\n',
            ["dependency-parsing", "pos", "wikipedia"],
        ),
    ],
)
def test_a_tag_naming_a_declared_language_is_no_keyword(model_id, front_matter, keywords):
    data = yaml.safe_load(front_matter)
    model = {"modelId": model_id, "cardData": data, "tags": [*data["tags"], data["language"]]}
    assert identify["keywords"](model) == keywords
    # A name still adds no language of its own, and one the card does not declare stays.
    other = {"modelId": "example-org/x", "cardData": {"language": "en", "tags": ["thai", "Berta"]}}
    assert identify["languages"](other) == ["en"]
    assert identify["keywords"](other) == ["Berta", "thai"]


@pytest.mark.parametrize(
    ("model_id", "front_matter"),
    [
        # YinanWusoymilk/hf-readme at eb4de03f, training_and_application/readme_files/
        # Skywork_Skywork-13B-base.md, lines 2-5
        (
            "Skywork/Skywork-13B-base",
            "license: other\nlicense_name: license\nlicense_link: >-\n"
            "  https://github.com/SkyworkAI/Skywork/blob/main/Skywork%20Community%20License.pdf\n",
        ),
        # the same, FunAudioLLM_SenseVoiceSmall.md, lines 2-4
        (
            "FunAudioLLM/SenseVoiceSmall",
            "license: other\nlicense_name: model-license\n"
            "license_link: https://github.com/modelscope/FunASR/blob/main/MODEL_LICENSE\n",
        ),
    ],
)
def test_a_licence_name_that_names_no_licence_leaves_other(model_id, front_matter):
    """`license`, `model-license`: two unrelated licences would share one id."""
    model = {"modelId": model_id, "cardData": yaml.safe_load(front_matter)}
    model["tags"] = ["license:other"]
    assert identify["licenses"](model) == ["other"]
