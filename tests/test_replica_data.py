"""The data added to the replica: dataset records derived from real dataset cards, and arXiv papers.

Expected values are read from the captured files themselves (front matter, card text, stored JSON),
never from the code that derives the served records.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from xml.etree import ElementTree

import httpx2
import pytest
import yaml
from huggingface_hub import HfApi, hf_hub_download

from hfharvest.enrich import enrich_datasets
from hfharvest.hub import HubClient
from hfharvest.replica import DEFAULT_SNAPSHOT, ReplicaHub

CARDS = DEFAULT_SNAPSHOT / "dataset_cards"
ARXIV = DEFAULT_SNAPSHOT / "arxiv"
BERT = "google-bert/bert-base-uncased"
ATOM = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


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


def test_every_arxiv_record_has_a_provenance_block():
    for path in sorted(ARXIV.glob("*.json")):
        record = json.loads(path.read_bytes())
        assert isinstance(record.get("provenance"), dict) and record["provenance"], path.name
        assert path.stem == record["id"].replace("/", "_")
        for key in ("title", "summary", "published", "updated", "primary_category"):
            assert record[key], (path.name, key)
        assert record["authors"] and record["primary_category"] in record["categories"]


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
