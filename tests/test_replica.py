"""The replica hub, driven by the real huggingface_hub client, checked against the recorded data."""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import pytest
import yaml
from huggingface_hub import HfApi, ModelCard, constants, hf_hub_download
from huggingface_hub.errors import (
    DisabledRepoError,
    EntryNotFoundError,
    GatedRepoError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.utils import parse_ratelimit_headers

from hfharvest.replica import ReplicaHub

ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = ROOT / "hfharvest" / "replica" / "hub_snapshot"
BERT = "google-bert/bert-base-uncased"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
DBMDZ = "dbmdz/bert-large-cased-finetuned-conll03-english"


def raw_session() -> httpx2.Client:
    """A plain client: hfharvest installs a rate limiter into huggingface_hub's own session,
    and these tests must see the replica's raw answers (a 429 included)."""
    return httpx2.Client(follow_redirects=True)


def recorded(file_stem: str) -> dict:
    return json.loads((SNAPSHOT / "api" / "models" / f"{file_stem}.json").read_bytes())


def card(file_stem: str) -> bytes:
    return (SNAPSHOT / "cards" / f"{file_stem}.md").read_bytes()


def front_matter(readme: bytes) -> dict:
    return yaml.safe_load(readme.decode().split("---\n")[1])


@pytest.fixture(scope="module")
def hub():
    with ReplicaHub(page_size=7) as running:
        yield running


@pytest.fixture
def api(hub):
    hub.reset_stats()
    return HfApi(endpoint=hub.url)


@pytest.fixture
def download(tmp_path):
    def fetch(hub, repo_id, **kwargs) -> bytes:
        kwargs.setdefault("token", False)
        path = hf_hub_download(
            repo_id, "README.md", endpoint=hub.url, cache_dir=tmp_path / "cache", **kwargs
        )
        return Path(path).read_bytes()

    return fetch


def test_list_models_pages_newest_first(hub, api):
    expand = ["lastModified", "pipeline_tag", "tags"]
    models = list(api.list_models(sort="last_modified", limit=50, expand=expand))

    assert len(models) == 50
    stamps = [model.last_modified for model in models]
    assert stamps == sorted(stamps, reverse=True)
    recorded_ids = {recorded(path.stem)["id"] for path in (SNAPSHOT / "api" / "models").iterdir()}
    assert {model.id for model in models[:35]} == recorded_ids
    assert models[0].id == "sentence-transformers/all-MiniLM-L6-v2"
    assert models[0].last_modified == datetime(2025, 3, 6, 13, 37, 44, tzinfo=UTC)
    assert models[0].pipeline_tag == "sentence-similarity"
    # Card-only models are dated when model_cards/ left transformers, older than every record.
    assert {model.last_modified for model in models[35:]} == {datetime(2020, 12, 10, tzinfo=UTC)}
    assert hub.stats()["by_endpoint"]["list_models"] == 8  # 50 models, 7 a page


def test_list_models_default_fields_and_filters(api):
    [model] = api.list_models(search="bert-base-uncased", author="google-bert")
    bert = recorded("google-bert__bert-base-uncased")
    assert (model.id, model.downloads, model.likes) == (BERT, bert["downloads"], bert["likes"])
    assert model.tags == bert["tags"] and model.pipeline_tag == "fill-mask"
    assert model.sha is None and model.card_data is None  # not in the default listing fields

    listed = {m.id for m in api.list_models(filter=["license:mit", "text-generation"])}
    # The recorded bodies tagged with both:
    assert {"gpt2", "openai-community/gpt2", "microsoft/DialoGPT-small"} <= listed
    assert "HuggingFaceH4/zephyr-7b-beta" in listed and BERT not in listed


def test_expand_with_full_is_a_bad_request(hub):
    response = raw_session().get(f"{hub.url}/api/models", params={"expand": "sha", "full": True})
    assert response.status_code == 400


def test_model_info_serves_the_recorded_body(api):
    bert = recorded("google-bert__bert-base-uncased")
    info = api.model_info(BERT)
    assert info.pipeline_tag == "fill-mask"
    assert info.sha == bert["sha"] == "86b5e0934494bd15c9632b12f734a8a67f723594"
    assert info.card_data.to_dict() == bert["cardData"]
    assert api.model_info(BERT, revision=bert["sha"]).sha == bert["sha"]
    assert api.model_info(BERT, expand=["downloads"]).downloads == bert["downloads"]


def test_recorded_expand_fields_are_served(api):
    info = api.model_info(LLAMA, expand=["inferenceProviderMapping"])
    assert {mapping.provider for mapping in info.inference_provider_mapping} >= {"fireworks-ai"}


def test_old_ids_redirect(hub, api):
    assert api.model_info("bert-base-uncased").id == BERT
    assert api.model_info("t5-small").sha == recorded("google-t5__t5-small")["sha"]
    assert hub.stats()["by_status"]["307"] == 2


def test_unknown_repo_and_revision(api):
    with pytest.raises(RepositoryNotFoundError):
        api.model_info("nobody/no-such-model")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(BERT, revision="v999")
    with pytest.raises(RepositoryNotFoundError):
        api.dataset_info("nobody/no-such-dataset")


def test_readme_is_the_real_card(hub, api, download):
    assert download(hub, BERT) == card("bert-base-uncased")
    assert download(hub, "bert-base-uncased") == card("bert-base-uncased")  # via the redirect
    # The client caches per requested id, so the old id fetched the (redirected) README again.
    assert hub.stats()["readme_gets"] == {BERT: 2}


def test_no_readme_is_made_up_when_no_card_was_found(hub, download):
    # The Hub lists a README for flan-t5-xxl, but no copy of it was found: none is served.
    assert "README.md" in {s["rfilename"] for s in recorded("google__flan-t5-xxl")["siblings"]}
    with pytest.raises(EntryNotFoundError):
        download(hub, "google/flan-t5-xxl")


def test_model_card_load(hub, tmp_path, monkeypatch):
    monkeypatch.setattr(constants, "ENDPOINT", hub.url)
    url_template = hub.url + "/{repo_id}/resolve/{revision}/{filename}"
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url_template)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    model_card = ModelCard.load("google-t5/t5-small", token=False)
    assert card("t5-small").decode().endswith(model_card.text)  # .content re-serialises the YAML
    assert "[Google's T5]" in model_card.text
    assert model_card.data.license == "apache-2.0"


def test_gated_readme_needs_a_token(hub, download):
    with pytest.raises(GatedRepoError):
        download(hub, LLAMA)
    readme = download(hub, LLAMA, token="hf_dummy")
    assert front_matter(readme)["extra_gated_button_content"] == "Submit"
    assert readme == (SNAPSHOT / "hub_cards" / "meta-llama__Llama-3.1-8B-Instruct.md").read_bytes()


def test_repo_without_readme(hub, download):
    assert "README.md" not in {
        s["rfilename"] for s in recorded(DBMDZ.replace("/", "__"))["siblings"]
    }
    with pytest.raises(EntryNotFoundError):
        download(hub, DBMDZ)


def test_card_only_models(hub, api, download):
    squad = card("deepset__bert-base-cased-squad2")
    info = api.model_info("deepset/bert-base-cased-squad2")
    assert info.sha == hashlib.sha1(squad).hexdigest()
    assert info.tags == ["transformers"] and info.card_data is None
    assert download(hub, "deepset/bert-base-cased-squad2") == squad == "Tải model\n".encode()

    wmt = api.model_info("allenai/wmt16-en-de-dist-12-1")
    assert wmt.tags[:4] == ["transformers", "en", "de", "license:Apache 2.0"]
    assert wmt.card_data.language == "en, de"
    assert api.model_info("t5-base").card_data is None  # '--' delimiters
    assert api.model_info("squeezebert/squeezebert-uncased").card_data is None  # no opening ---
    assert "DJSammy/bert-base-danish-uncased_BotXO,ai" not in hub.catalogue.models  # comma in id
    crlf = download(hub, "iarfmoose/roberta-base-bulgarian")
    assert crlf == card("iarfmoose__roberta-base-bulgarian") and b"\r\n" in crlf


def test_tasks_are_served(hub):
    response = raw_session().get(f"{hub.url}/api/tasks")
    assert response.content == (SNAPSHOT / "api" / "tasks.json").read_bytes()


def test_api_rate_limit():
    with ReplicaHub(api_rate_limit=5) as hub:
        session = raw_session()
        for remaining in (4, 3, 2, 1, 0):
            response = session.get(f"{hub.url}/api/models/gpt2")
            assert response.status_code == 200
            assert parse_ratelimit_headers(response.headers).remaining == remaining
        response = session.get(f"{hub.url}/api/models/gpt2")
        assert response.status_code == 429
        assert 0 < int(response.headers["Retry-After"]) <= 300
        limit = parse_ratelimit_headers(response.headers)
        assert (limit.resource_type, limit.remaining, limit.limit) == ("api", 0, 5)
        assert limit.window_seconds == 300 and 0 < limit.reset_in_seconds <= 300
        readme = session.get(f"{hub.url}/gpt2/resolve/main/README.md")  # the other bucket
        assert readme.status_code == 200 and "RateLimit" not in readme.headers
        assert hub.stats()["rate_limited"] == 1
        assert hub.stats()["by_status"] == {"200": 6, "429": 1}


def test_scale_is_deterministic_with_base_models():
    first, second = ReplicaHub(scale=1000, seed=7), ReplicaHub(scale=1000, seed=7)
    synthetic = [i for i in first.catalogue.models if i.startswith("replica-scale-")]
    assert len(synthetic) == 1000
    assert len(first.catalogue.models) == len(ReplicaHub().catalogue.models) + 1000
    records = [first.catalogue.models[i].to_json() for i in synthetic]
    assert records == [second.catalogue.models[i].to_json() for i in synthetic]
    relation_tags = tuple(f"base_model:{r}:" for r in ("finetune", "adapter", "quantized", "merge"))
    derived = [r for r in records if any(tag.startswith(relation_tags) for tag in r["tags"])]
    assert 0.33 < len(derived) / 1000 < 0.47  # ROOT_SHARE 0.6: 40 % declare a base
    other_seed = ReplicaHub(scale=1000, seed=8).catalogue.models
    others = [i for i in other_seed if i.startswith("replica-scale-")]
    assert [other_seed[i].get("lastModified") for i in others] != [
        r["lastModified"] for r in records
    ]


def test_scale_models_over_http(tmp_path, download):
    with ReplicaHub(scale=300, seed=1) as hub:
        api = HfApi(endpoint=hub.url)
        listed = list(api.list_models(search="replica-scale-", expand=["cardData", "tags"]))
        assert len(listed) == 300
        derived = next(
            m
            for m in listed
            if m.card_data
            and "base_model_relation" in m.card_data
            and isinstance(m.card_data.base_model, str)
        )
        readme = download(hub, derived.id)
        assert front_matter(readme)["base_model"] == derived.card_data.base_model
        assert f"base_model:{derived.card_data.base_model}" in derived.tags
        # The card: the synthetic title, then sections taken from the snapshot's real cards.
        text = readme.decode()
        assert f"\n# {derived.id.split('/')[1]}\n" in text
        sections = text.split("\n## ")[1:]
        real_cards = "".join(path.read_text() for path in (SNAPSHOT / "hub_cards").glob("*.md"))
        real_cards += "".join(path.read_text() for path in (SNAPSHOT / "cards").glob("*.md"))
        assert sections and all(section[:200] in real_cards for section in sections[:-1])


def test_change_models(download):
    with ReplicaHub() as hub:
        api = HfApi(endpoint=hub.url)
        bert = recorded("google-bert__bert-base-uncased")
        assert hub.change_models(ids=[BERT]) == [BERT]
        info = api.model_info(BERT)
        assert info.sha != bert["sha"]
        assert info.last_modified > datetime.fromisoformat(bert["lastModified"])
        readme = download(hub, BERT)
        assert readme.startswith(card("bert-base-uncased")) and readme != card("bert-base-uncased")
        [newest] = api.list_models(sort="last_modified", limit=1)
        assert newest.id == BERT

        response = raw_session().post(
            f"{hub.url}/_replica/change", json={"fraction": 0.05, "seed": 1}
        )
        changed = response.json()["changed"]
        assert len(changed) == round(0.05 * len(hub.catalogue.models)) > 0
        assert all(api.model_info(i).last_modified >= info.last_modified for i in changed)


def test_latency_and_config_route():
    with ReplicaHub(latency_ms=300) as hub:
        session = raw_session()
        started = time.monotonic()
        assert session.get(f"{hub.url}/api/models/gpt2").status_code == 200
        assert time.monotonic() - started >= 0.3
        started = time.monotonic()
        session.post(f"{hub.url}/_replica/config", json={"latency_ms": 0})
        session.get(f"{hub.url}/api/models/gpt2")
        assert time.monotonic() - started < 0.3
        assert hub.stats()["total"] == 2  # /_replica/* is not counted


def test_disabled_repo(download):
    with ReplicaHub(disabled_ids=["gpt2"]) as hub:
        with pytest.raises(DisabledRepoError):
            HfApi(endpoint=hub.url).model_info("gpt2")
        # hf_hub_download reports a failed HEAD as a cache miss, caused by the real error.
        with pytest.raises(LocalEntryNotFoundError) as caught:
            download(hub, "gpt2")
        assert isinstance(caught.value.__cause__, DisabledRepoError)


def test_datasets_from_a_snapshot_folder(tmp_path, download):
    snapshot = shutil.copytree(SNAPSHOT, tmp_path / "snapshot")
    (snapshot / "api" / "datasets").mkdir()
    dataset = {
        "_id": "0" * 24,
        "id": "replica/tiny",
        "sha": "1" * 40,
        "cardData": {"license": "mit"},
    }
    (snapshot / "api" / "datasets" / "replica__tiny.json").write_text(json.dumps(dataset))
    with ReplicaHub(snapshot) as hub:  # a recorded body without a card: no README is made up
        assert HfApi(endpoint=hub.url).dataset_info("replica/tiny").sha == "1" * 40
        with pytest.raises(EntryNotFoundError):
            download(hub, "replica/tiny", repo_type="dataset")
    card = b"---\nlicense: mit\n---\n\n# tiny\n"
    (snapshot / "dataset_cards" / "replica__tiny.md").write_bytes(card)
    with ReplicaHub(snapshot) as hub:  # the body takes the captured card as its README
        assert download(hub, "replica/tiny", repo_type="dataset") == card


def test_cli_writes_url_and_stats(tmp_path):
    ready, stats = tmp_path / "hub.url", tmp_path / "stats.json"
    command = [sys.executable, "-m", "hfharvest.replica", "--port", "0", "--ready-file", str(ready)]
    command += ["--stats-file", str(stats)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while not ready.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        url = ready.read_text()
        assert process.stdout.readline().strip() == url
        assert raw_session().get(f"{url}/api/tasks").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    assert json.loads(stats.read_text())["by_endpoint"]["tasks"] == 1
