"""The data added to the replica: real model cards, dataset records derived from real dataset
cards, arXiv papers, and the demo's set of real models.

Expected values are read from the captured files themselves (front matter, card text, stored JSON),
never from the code that derives the served records.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

import httpx2
import pytest
import yaml
from huggingface_hub import HfApi, hf_hub_download

from hfharvest.enrich import enrich_datasets
from hfharvest.hub import HubClient
from hfharvest.ids import parse_models_file
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub
from hfharvest.replica.snapshot import load_snapshot

CARDS = DEFAULT_SNAPSHOT / "dataset_cards"
ARXIV = DEFAULT_SNAPSHOT / "arxiv"
BERT = "google-bert/bert-base-uncased"
ATOM = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}
HUB_CARDS = DEFAULT_SNAPSHOT / "hub_cards"
RECORDED = DEFAULT_SNAPSHOT / "api" / "models"
ROOT = Path(__file__).resolve().parents[1]
TOKEN = {"Authorization": "Bearer hf_dummy"}  # opens the gated Llama repos on the replica


def card_text(name: str) -> str:
    return (CARDS / f"{name.replace('/', '__')}.md").read_bytes().decode()


def card_meta(name: str) -> dict:
    """The card's YAML front matter, split out by hand (the cards open with `---` on line 1)."""
    text = card_text(name)
    assert text.startswith("---\n")
    return yaml.safe_load(text[4 : text.index("\n---\n", 4)])


def index() -> dict:
    return json.loads((CARDS / "index.json").read_bytes())


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub() as running:
        yield running


# -- the captured files ------------------------------------------------------------------------


def test_every_card_matches_its_recorded_sha256_and_length():
    recorded = index()
    files = sorted(path.name for path in CARDS.glob("*.md"))
    assert files == sorted(recorded) and len(files) >= 30
    for name, entry in recorded.items():
        data = (CARDS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data.decode()) == entry["chars"], name
        assert entry["source_repository"] == "huggingface/datasets"
        assert entry["source_path"] == f"datasets/{entry['dataset_id']}/README.md"
        assert len(entry["commit"]) == 40


def test_the_index_is_repeated_in_the_provenance_notes():
    notes = (DEFAULT_SNAPSHOT / "PROVENANCE-additions.md").read_text()
    for name, entry in index().items():
        assert f"| `{name}` | `{entry['source_path']}` |" in notes
        assert entry["sha256"] in notes


# What a stored paper may hold: the arXiv API's entry fields, plus where each came from.
ARXIV_FIELDS = {"id", "version", "title", "authors", "summary", "published", "updated",
                "primary_category", "categories", "doi", "journal_ref", "comment"}  # fmt: skip


def test_every_arxiv_record_has_a_provenance_block():
    for path in sorted(ARXIV.glob("*.json")):
        record = json.loads(path.read_bytes())
        assert isinstance(record.get("provenance"), dict) and record["provenance"], path.name
        assert path.stem == record["id"].replace("/", "_")
        assert set(record) - {"provenance"} <= ARXIV_FIELDS, path.name
        for key in ("title", "published"):  # what every arXiv entry has
            assert record[key], (path.name, key)
        if record.get("primary_category") and record.get("categories"):
            assert record["primary_category"] in record["categories"], path.name
        # A field left out says why: every absent optional field is listed as not in the source.
        absent = ARXIV_FIELDS - set(record) - {"doi"}
        noted = " ".join(record["provenance"].get("not_in_source", []))
        assert all(key in noted for key in absent), (path.name, absent, noted)
        notes = (DEFAULT_SNAPSHOT / "PROVENANCE-additions.md").read_text()
        assert f"`{path.name}`" in notes, path.name


# -- dataset records served by the replica -----------------------------------------------------


def test_bookcorpus_dataset_info_comes_from_its_card(hub):
    meta = card_meta("bookcorpus")
    info = HfApi(endpoint=hub.url).dataset_info("bookcorpus")

    assert info.id == "bookcorpus" and info.author is None
    assert info.sha == hashlib.sha1(card_text("bookcorpus").encode()).hexdigest()
    assert info.card_data.license == meta["license"] == ["unknown"]
    assert info.card_data.task_categories == meta["task_categories"]
    assert info.card_data.pretty_name == "BookCorpus"
    assert info.paperswithcode_id == meta["paperswithcode_id"]
    for value in meta["task_categories"]:
        assert f"task_categories:{value}" in info.tags
    assert {"license:unknown", "language:en", "size_categories:10M<n<100M"} <= set(info.tags)
    assert info.description.startswith("Books are a rich source of both fine-grained information")
    assert info.citation.startswith("@InProceedings{Zhu_2015_ICCV,")
    assert [sibling.rfilename for sibling in info.siblings] == ["README.md"]
    # Download and like counts are unknown for a card-derived record: absent, not zero.
    assert (info.downloads, info.likes, info.private, info.gated) == (None, None, False, False)


def test_a_card_is_served_as_the_dataset_readme(hub, tmp_path):
    path = hf_hub_download(
        "squad", "README.md", repo_type="dataset", endpoint=hub.url, cache_dir=tmp_path
    )
    assert Path(path).read_bytes() == (CARDS / "squad.md").read_bytes()


def test_squad_citation_and_multi_entry_glue(hub):
    api = HfApi(endpoint=hub.url)
    squad = api.dataset_info("squad")
    assert squad.card_data.license == card_meta("squad")["license"] == ["cc-by-4.0"]
    assert "eprint = {1606.05250}" in squad.citation
    glue = api.dataset_info("glue")
    assert glue.card_data.task_ids == card_meta("glue")["task_ids"]
    assert "@article{warstadt2018neural," in glue.citation
    assert "@inproceedings{wang2019glue," in glue.citation


def test_a_placeholder_summary_gives_no_description(hub):
    assert "### Dataset Summary\n\n[More Information Needed]\n" in card_text("yahoo_answers_topics")
    info = HfApi(endpoint=hub.url).dataset_info("yahoo_answers_topics")
    assert info.description is None and info.citation is None
    assert "task_ids:topic-classification" in info.tags


def test_unknown_datasets_are_still_not_found(hub):
    response = httpx2.get(f"{hub.url}/api/datasets/HuggingFaceH4/ultrachat_200k")
    assert response.status_code == 404
    assert response.headers["X-Error-Code"] == "RepoNotFound"


def test_bert_datasets_are_enriched(hub):
    mapping = {BERT: ["bookcorpus", "wikipedia"]}
    found = {
        entity["id"]: entity for entity in enrich_datasets(HubClient(hub.url), mapping, threads=2)
    }

    for name in ("bookcorpus", "wikipedia"):
        meta = card_meta(name)
        entity = found[name]
        assert entity["enriched"] and entity["models"] == [BERT]
        assert entity["license"] == meta["license"]
        assert entity["task_categories"] == meta["task_categories"]
        assert entity["card_data"]["pretty_name"] == meta["pretty_name"]
    assert found["wikipedia"]["license"] == ["cc-by-sa-3.0", "gfdl"]
    assert found["wikipedia"]["description"].startswith("Wikipedia dataset containing cleaned")
    assert found["bookcorpus"]["croissant_status"] == "missing"


def test_a_recorded_body_wins_over_the_card(tmp_path):
    snapshot = shutil.copytree(DEFAULT_SNAPSHOT, tmp_path / "snapshot")
    body = {"_id": "3" * 24, "id": "bookcorpus", "sha": "4" * 40, "tags": ["test-only"]}
    (snapshot / "api" / "datasets").mkdir(exist_ok=True)
    (snapshot / "api" / "datasets" / "bookcorpus.json").write_text(json.dumps(body))
    with ReplicaHub(snapshot) as hub:
        info = HfApi(endpoint=hub.url).dataset_info("bookcorpus")
        readme = httpx2.get(f"{hub.url}/datasets/bookcorpus/resolve/main/README.md")
    assert (info.sha, info.tags) == (body["sha"], body["tags"])
    assert readme.content == (CARDS / "bookcorpus.md").read_bytes()


# -- arXiv papers ------------------------------------------------------------------------------


def test_new_papers_come_back_with_their_real_titles(hub):
    t5 = json.loads((ARXIV / "1910.10683.json").read_bytes())
    response = httpx2.get(
        f"{hub.url}/api/query", params={"id_list": "1910.10683,1810.04805,2401.99999"}
    )
    assert response.status_code == 200
    feed = ElementTree.fromstring(response.content)
    total = feed.find("{http://a9.com/-/spec/opensearch/1.1/}totalResults").text
    entries = {
        entry.find("atom:id", ATOM).text: entry for entry in feed.findall("atom:entry", ATOM)
    }
    assert total == "2" and set(entries) == {
        "http://arxiv.org/abs/1910.10683v2",
        "http://arxiv.org/abs/1810.04805v2",
    }
    entry = entries["http://arxiv.org/abs/1910.10683v2"]
    assert entry.find("atom:title", ATOM).text == t5["title"]
    assert t5["title"] == (
        "Exploring the Limits of Transfer Learning with a Unified Text-to-Text Transformer"
    )
    names = [author.find("atom:name", ATOM).text for author in entry.findall("atom:author", ATOM)]
    assert names == t5["authors"] and names[0] == "Colin Raffel" and len(names) == 9
    assert entry.find("atom:published", ATOM).text == "2019-10-23T17:37:36Z"
    assert entry.find("arxiv:primary_category", ATOM).get("term") == "cs.LG"


# -- model cards: only real files under real ids -----------------------------------------------


def hub_cards_index() -> dict:
    return json.loads((HUB_CARDS / "index.json").read_bytes())


def listed_cards() -> dict[str, str]:
    """sha256 -> file, for every card file the provenance indexes list."""
    old = json.loads((DEFAULT_SNAPSHOT / "cards.index.json").read_bytes())["cards"]
    new = hub_cards_index()["cards"]
    return {entry["sha256"]: f"cards/{entry['file']}" for entry in old} | {
        entry["sha256"]: f"hub_cards/{name}" for name, entry in new.items()
    }


def front_matter_of(data: bytes) -> dict:
    match = re.match(rb"---\r?\n(.*?)\r?\n---\r?\n", data, re.S)
    return yaml.safe_load(match.group(1))


def readme(hub, model_id: str) -> httpx2.Response:
    return httpx2.get(f"{hub.url}/{model_id}/resolve/main/README.md", headers=TOKEN)


def test_every_hub_card_matches_its_index_and_is_that_models_card():
    cards = hub_cards_index()["cards"]
    assert sorted(path.name for path in HUB_CARDS.glob("*.md")) == sorted(cards)
    assert len(cards) >= 15
    for name, entry in cards.items():
        data = (HUB_CARDS / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
        assert len(data.decode()) == entry["chars"] and len(data) == entry["bytes"], name
        assert name == entry["model_id"].replace("/", "__") + ".md"
        assert entry.get("source_repo") or entry.get("index_id"), name  # where it was read
        # The card of that very model: its licence is the recorded record's.
        record = json.loads((RECORDED / name.replace(".md", ".json")).read_bytes())
        meta = front_matter_of(data)
        assert meta.get("license") == (record.get("cardData") or {}).get("license"), name
    # Two cards whose whole front matter is the recorded cardData, checked field by field.
    for name in ("facebook__detr-resnet-50.md", "microsoft__DialoGPT-small.md"):
        record = json.loads((RECORDED / name.replace(".md", ".json")).read_bytes())
        assert front_matter_of((HUB_CARDS / name).read_bytes()) == record["cardData"]


def test_every_served_readme_under_a_real_id_is_a_listed_real_file(hub):
    listed = listed_cards()
    served = {}
    for model_id in sorted(hub.catalogue.models):  # scale 0: recorded and card-derived only
        response = readme(hub, model_id)
        if response.status_code == 200:
            served[model_id] = listed.get(hashlib.sha256(response.content).hexdigest())
            assert served[model_id], f"{model_id}: README not in the provenance indexes"
        else:
            assert response.status_code == 404, model_id
            assert response.headers["X-Error-Code"] == "EntryNotFound", model_id
    assert served["HuggingFaceH4/zephyr-7b-beta"] == "hub_cards/HuggingFaceH4__zephyr-7b-beta.md"
    assert served["gpt2"] == served["openai-community/gpt2"]  # one card, the renamed repo
    assert served["google-bert/bert-base-uncased"] == "cards/bert-base-uncased.md"
    assert len(served) >= 200


def test_no_readme_is_served_for_a_model_whose_card_was_not_found(hub):
    not_found = hub_cards_index()["not_found"]
    recorded = {json.loads(path.read_bytes())["id"] for path in RECORDED.glob("*.json")}
    assert set(not_found) <= recorded and len(not_found) >= 5
    assert not set(not_found) & {e["model_id"] for e in hub_cards_index()["cards"].values()}
    for model_id in sorted(recorded):
        status = readme(hub, model_id).status_code
        assert (status == 404) == (model_id in not_found), (model_id, status)
    # The Hub lists a README for flan-t5-xxl; the replica serves none rather than a made-up one.
    body = json.loads((RECORDED / "google__flan-t5-xxl.json").read_bytes())
    assert {"rfilename": "README.md"} in body["siblings"]
    provenance = (DEFAULT_SNAPSHOT / "PROVENANCE-additions.md").read_text()
    for model_id in not_found:
        assert f"`{model_id}`" in provenance, model_id


def test_hub_cards_are_listed_in_the_provenance_notes():
    notes = (DEFAULT_SNAPSHOT / "PROVENANCE-additions.md").read_text()
    for name, entry in hub_cards_index()["cards"].items():
        assert f"`{name}`" in notes and entry["sha256"] in notes, name


# -- arXiv: what is served is what is stored ---------------------------------------------------


def test_a_record_without_title_or_first_version_date_is_refused(tmp_path):
    snapshot = shutil.copytree(DEFAULT_SNAPSHOT, tmp_path / "snapshot")
    record = json.loads((ARXIV / "1910.13461.json").read_bytes())
    del record["published"]
    (snapshot / "arxiv" / "1910.13461.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="1910.13461.json: an arXiv record needs published"):
        load_snapshot(snapshot)


def _entries(hub, ids: list[str]) -> dict:
    response = httpx2.get(
        f"{hub.url}/api/query", params={"id_list": ",".join(ids), "max_results": 50}
    )
    assert response.status_code == 200
    feed = ElementTree.fromstring(response.content)
    return {entry.find("atom:id", ATOM).text: entry for entry in feed.findall("atom:entry", ATOM)}


def _served_fields(entry) -> dict:
    """The entry read back into the stored record's keys: only what the feed holds."""
    text = {
        "title": "atom:title", "summary": "atom:summary", "published": "atom:published",
        "updated": "atom:updated", "comment": "arxiv:comment", "journal_ref": "arxiv:journal_ref",
        "doi": "arxiv:doi",
    }  # fmt: skip
    fields = {
        key: found.text
        for key, path in text.items()
        if (found := entry.find(path, ATOM)) is not None
    }
    names = [a.find("atom:name", ATOM).text for a in entry.findall("atom:author", ATOM)]
    terms = [c.get("term") for c in entry.findall("atom:category", ATOM)]
    primary = entry.find("arxiv:primary_category", ATOM)
    fields |= {"authors": names} if names else {}
    fields |= {"categories": terms} if terms else {}
    fields |= {"primary_category": primary.get("term")} if primary is not None else {}
    return fields


def test_every_stored_paper_is_served_with_exactly_its_stored_fields(hub):
    records = [json.loads(path.read_bytes()) for path in sorted(ARXIV.glob("*.json"))]
    entries = _entries(hub, [record["id"] for record in records])
    assert len(entries) == len(records) >= 15
    for record in records:
        versioned = f"{record['id']}v{record['version']}" if "version" in record else record["id"]
        stored = {key: value for key, value in record.items() if value is not None}
        stored = {k: v for k, v in stored.items() if k not in ("id", "version", "provenance")}
        assert _served_fields(entries[f"http://arxiv.org/abs/{versioned}"]) == stored, record["id"]


def test_a_paper_without_a_stored_abstract_is_served_without_one(hub):
    bart = json.loads((ARXIV / "1910.13461.json").read_bytes())
    assert "summary" not in bart and "updated" not in bart and "version" not in bart
    [(entry_id, entry)] = _entries(hub, ["1910.13461"]).items()
    assert entry_id == "http://arxiv.org/abs/1910.13461"  # no version is claimed
    assert entry.find("atom:summary", ATOM) is None and entry.find("atom:updated", ATOM) is None
    assert entry.find("atom:published", ATOM).text == bart["published"] == "2019-10-29"
    assert _entries(hub, ["1910.13461v1"]) == {}  # a version no source names is not served


# -- the demo harvests real models only ----------------------------------------------------------


def test_the_demo_model_set_is_real(hub):
    config = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    assert config["replica"]["scale"] == 0
    file_ids, problems = parse_models_file(ROOT / config["hf"]["models_file"])
    assert file_ids and not problems
    # The listing the demo takes its newest `num_models` from (the replica at scale 0).
    newest = HfApi(endpoint=hub.url).list_models(
        sort="lastModified", limit=config["hf"]["num_models"]
    )
    listed = [model.id for model in newest]
    recorded = {json.loads(path.read_bytes())["id"] for path in RECORDED.glob("*.json")}
    cards = {path.stem.replace("__", "/", 1) for path in (DEFAULT_SNAPSHOT / "cards").glob("*.md")}
    redirects = {key.removeprefix("/api/models/").split("?")[0] for key in json.loads(
        (DEFAULT_SNAPSHOT / "api" / "redirects.json").read_bytes())}  # fmt: skip
    assert set(listed) == recorded  # the newest 35 are the recorded records
    for model_id in [*listed, *file_ids]:
        assert not model_id.startswith("replica-scale"), model_id
        assert model_id in recorded | cards | redirects, model_id
    assert {"valhalla/distilbart-mnli-12-6", "bert-base-uncased"} <= set(file_ids)


def test_every_base_model_the_snapshot_lacks_is_listed_in_the_provenance(hub):
    notes = (DEFAULT_SNAPSHOT / "PROVENANCE-additions.md").read_text()
    missing = set()
    for path in RECORDED.glob("*.json"):
        record = json.loads(path.read_bytes())
        tags = [
            tag.split(":")[-1] for tag in record.get("tags", []) if tag.startswith("base_model:")
        ]
        stated = (record.get("cardData") or {}).get("base_model")
        for base in {*tags, *([stated] if isinstance(stated, str) else stated or [])}:
            response = httpx2.get(f"{hub.url}/api/models/{base}", follow_redirects=True)
            if response.status_code == 404:
                missing.add(base)
                assert f"| `{base}` |" in notes, base
    assert "mistralai/Mistral-7B-v0.1" in missing and len(missing) >= 5
