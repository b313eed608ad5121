"""The synthetic Hub (replica.scale): its shape against the published figures of
hub_snapshot/PROVENANCE-synthetic.md, and the bulk dump through the real huggingface_hub client.

Statistics are computed in-process on generated records (no HTTP); the ranges asserted are the
cited ones, written here as literals rather than read from the generator's constants."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime

import langcodes
import pyarrow.parquet as pq
import pytest
from conftest import all_snapshot_records
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import EntryNotFoundError

from hfharvest.lineage import base_model_links
from hfharvest.replica import ReplicaHub
from hfharvest.replica.bulk import DUMP_ID
from hfharvest.replica.snapshot import load_snapshot, parse_front_matter

RELATIONS = ("finetune", "adapter", "quantized", "merge")


@pytest.fixture(scope="module")
def big():
    return load_snapshot(scale=20_000, seed=0)


@pytest.fixture(scope="module")
def small():
    return load_snapshot(scale=2_000, seed=0)


def synthetic(catalogue):
    return catalogue.models.synthetic


def records(catalogue) -> list[dict]:
    hub = synthetic(catalogue)
    return [hub.record(i) for i in range(hub.count)]


@pytest.fixture(scope="module")
def big_records(big):
    return records(big)


def test_same_seed_same_hub_other_seed_other_hub(small):
    again = synthetic(load_snapshot(scale=2_000, seed=0))
    other = synthetic(load_snapshot(scale=2_000, seed=1))
    hub = synthetic(small)
    picks = range(0, 2_000, 37)
    assert [hub.record(i) for i in picks] == [again.record(i) for i in picks]
    assert [hub.card(i) for i in picks] == [again.card(i) for i in picks]
    assert list(hub) == list(again)
    assert [hub.record(i) for i in picks] != [other.record(i) for i in picks]


def test_every_id_answers_its_own_record(small):
    models = small.models
    for model_id in list(synthetic(small))[::97]:
        repo = models[model_id]
        assert repo.id == model_id == repo.to_json()["id"]
    assert "replica-scale-1/not-a-model-5" not in models
    assert "replica-scale-1/x-999999999" not in models


def test_no_synthetic_record_under_a_real_id_or_a_real_author(big):
    hub = synthetic(big)
    real_ids = set(big.models.real) | set(big.redirects)
    real_authors = {r["id"].split("/")[0] for r in all_snapshot_records() if "/" in r["id"]}
    real_authors |= {i.split("/")[0] for i in real_ids if "/" in i}
    ids = list(hub)
    assert len(set(ids)) == len(ids) == 20_000
    assert not set(ids) & real_ids
    authors = {i.split("/")[0] for i in ids}
    assert all(a.startswith("replica-scale-") for a in authors) and not authors & real_authors
    # Many authors, and a few prolific ones (Zipf): the largest holds far more than the median.
    per_author = Counter(i.split("/")[0] for i in ids)
    assert len(per_author) > 1_000
    assert per_author.most_common(1)[0][1] > 20 * statistics.median(per_author.values())


def test_heavy_tailed_fan_out_deep_chains_and_the_four_relations(big, big_records):
    hub = synthetic(big)
    real = set(big.models.real)
    children: Counter[str] = Counter()
    relations: Counter[str] = Counter()
    parents_of_merges = []
    for record in big_records:
        # Read back with the client's own parser, as the harvest reads the real Hub.
        links = [(b, r) for b, r in base_model_links(record) if r != "base_model"]
        for base, _relation in links:
            assert base in real or base in hub  # a real base model or a synthetic one
            children[base] += 1
        if links:
            relations[links[0][1]] += 1
            if links[0][1] == "merge":
                parents_of_merges.append(len(links))
    derived = sum(relations.values())
    assert 0.35 < derived / len(big_records) < 0.45  # about 40 % declare a parent (Horwitz)
    shares = {relation: relations[relation] / derived for relation in RELATIONS}
    assert 0.45 < shares["finetune"] < 0.60
    assert 0.18 < shares["quantized"] < 0.30
    assert 0.12 < shares["adapter"] < 0.22
    assert 0.04 < shares["merge"] < 0.10
    assert statistics.mean(parents_of_merges) > 1.8 and max(parents_of_merges) >= 3
    # Heavy tail: the largest hub has hundreds of children, the median parent one or two.
    top, top_count = children.most_common(1)[0]
    assert top_count > 100 * statistics.median(children.values())
    assert top in real  # the most downloaded real base is the Llama-like hub
    # Quantizations and adapters are leaves (99.41 % of quantized models, Horwitz et al.).
    leaves = {r["id"] for r in big_records if any(":quantized:" in t for t in r["tags"])}
    assert not leaves & set(children)
    assert max(hub.depth(i) for i in range(hub.count)) >= 4


def test_entity_sets_grow_with_n(small, big, big_records):
    def distinct(records_):
        data = [r.get("cardData", {}) for r in records_]
        tags = [t for r in records_ for t in r["tags"]]
        return {
            "datasets": {d for c in data for d in c.get("datasets", ())},
            "licenses": {c["license"] for c in data if "license" in c},
            "languages": {code for c in data for code in c.get("language", ())},
            "papers": {t for t in tags if t.startswith("arxiv:")},
        }

    few, many = distinct(records(small)), distinct(big_records)
    for kind in few:
        assert len(many[kind]) > len(few[kind]), kind
    assert len(many["datasets"]) > 1_000 and len(many["papers"]) > 200
    # Zipf-like popularity: the first licence and language dominate.
    licences = Counter(
        r["cardData"]["license"] for r in big_records if "license" in r.get("cardData", {})
    )
    assert licences.most_common(1)[0][0] == "apache-2.0" and len(licences) > 40
    # Every language is a real ISO 639-1 code, English first.
    assert all(langcodes.Language.get(code).is_valid() for code in many["languages"])
    languages = Counter(c for r in big_records for c in r.get("cardData", {}).get("language", ()))
    assert languages.most_common(1)[0][0] == "en"


def test_card_lengths_are_heavy_tailed_and_cards_look_like_cards(big):
    hub = synthetic(big)
    lengths = [hub.card_length(i) for i in range(hub.count)]
    cards = [length for length in lengths if length is not None]
    cardless = lengths.count(None) / len(lengths)
    assert 0.15 < cardless < 0.35
    assert 1_000 < statistics.median(cards) < 4_000  # the snapshot's real cards: 1.8 K
    longest = max(range(hub.count), key=lambda i: lengths[i] or 0)
    text = hub.card(longest)
    assert len(text) >= 1_000_000
    meta = parse_front_matter(text)
    assert meta == hub.record(longest)["cardData"]  # the README and cardData agree
    assert text.count("\n## ") > 100  # built of real-card sections
    gated = sum(bool(hub.gated(i)) for i in range(hub.count)) / hub.count
    assert 0.003 < gated < 0.03


def test_times_spread_over_years_and_parents_come_first(big_records):
    created = [datetime.fromisoformat(r["createdAt"]) for r in big_records]
    modified = [datetime.fromisoformat(r["lastModified"]) for r in big_records]
    assert all(m >= c for m, c in zip(modified, created, strict=True))
    years = Counter(c.year for c in created)
    assert set(years) >= {2021, 2023, 2025} and years[2025] > years[2021]


def test_synthetic_datasets_listed_in_pages_with_their_shas():
    with ReplicaHub(scale=400, seed=4, page_size=25) as hub:
        api = HfApi(endpoint=hub.url)
        listed = list(api.list_datasets(sort="lastModified", expand=["sha", "lastModified"]))
        assert len(listed) == len(hub.catalogue.datasets) > 100  # several Link-paged pages
        dates = [d.last_modified for d in listed]
        assert dates == sorted(dates, reverse=True)
        some = next(d for d in listed if d.id.startswith("replica-scale-data/"))
        assert api.dataset_info(some.id).sha == some.sha
        named = {
            d
            for i in range(400)
            for d in hub.catalogue.models.synthetic.card_data(i).get("datasets", ())
        }
        assert named <= {d.id for d in listed}  # every dataset a model names is on the Hub
        assert hub.stats()["by_endpoint"]["list_datasets"] == -(-len(listed) // 25)


def test_bulk_dump_through_the_real_client_with_stale_and_missing_rows(tmp_path):
    with ReplicaHub(scale=2_000, seed=3, dump_rows_per_shard=900) as hub:
        api = HfApi(endpoint=hub.url)
        files = api.list_repo_files(DUMP_ID, repo_type="dataset")
        assert files == [f"data/train-0000{k}-of-00003.parquet" for k in range(3)]
        info = api.dataset_info(DUMP_ID)
        assert [s.rfilename for s in info.siblings] == files
        paths = [
            hf_hub_download(DUMP_ID, name, repo_type="dataset", endpoint=hub.url,
                            cache_dir=tmp_path, revision=info.sha)
            for name in files
        ]  # fmt: skip
        tables = [pq.read_table(path) for path in paths]
        assert tables[0].schema.names == ["modelId", "author", "last_modified", "downloads",
            "likes", "library_name", "tags", "pipeline_tag", "createdAt", "card"]  # fmt: skip
        assert all(pq.ParquetFile(p).metadata.num_row_groups >= 1 for p in paths)
        rows = [row for table in tables for row in table.to_pylist()]
        models = hub.catalogue.models
        with_card = [i for i in models if models[i].readme_text() is not None]
        by_id = {row["modelId"]: row for row in rows}
        missing = set(with_card) - set(by_id)
        assert 0.005 < len(missing) / len(with_card) < 0.05
        stale, current = [], []
        for model_id, row in by_id.items():
            live = models[model_id]
            live_modified = datetime.fromisoformat(live.get("lastModified"))
            if row["card"] == live.readme_text() and row["last_modified"] == live_modified:
                current.append(model_id)
            else:
                assert row["last_modified"] < live_modified and row["card"] != live.readme_text()
                stale.append(model_id)
        assert 0.01 < len(stale) / len(by_id) < 0.06
        assert all(i.startswith("replica-scale-") for i in stale)  # real cards served as recorded
        # A change after the dump was published makes a current row stale, as a daily dump lags.
        [changed] = hub.change_models(ids=[current[-1]])
        assert (
            datetime.fromisoformat(models[changed].get("lastModified"))
            > by_id[changed]["last_modified"]
        )


def test_listing_with_file_names_says_which_models_have_a_readme(tmp_path):
    """`expand=siblings` on /api/models, with the other fields the pipeline asks, through the
    real client: real models' file names as recorded, a README.md listed exactly where the
    README route serves one (synthetic models: a quarter card-less)."""
    fields = ["sha", "lastModified", "cardData", "gated", "tags", "siblings"]
    with ReplicaHub(scale=600, seed=2, page_size=100) as hub:
        api = HfApi(endpoint=hub.url)
        listed = list(api.list_models(sort="last_modified", expand=fields))
        assert len(listed) == len(hub.catalogue.models)
        real = {record["id"]: record for record in all_snapshot_records()}
        listed_readme = {}
        for model in listed:
            names = [sibling.rfilename for sibling in model.siblings]
            listed_readme[model.id] = "README.md" in names
            if model.id in real:  # never invented: the recorded list, in its order
                assert names == [s["rfilename"] for s in real[model.id]["siblings"]]
            assert model.sha and model.last_modified  # the other expand fields still served
        synthetic_ids = [i for i in listed_readme if i.startswith("replica-scale-")]
        cardless = [i for i in synthetic_ids if not listed_readme[i]]
        assert 0.15 < len(cardless) / len(synthetic_ids) < 0.35
        # The README route agrees, for a sample of each kind and every real model.
        card_only = [i for i in listed_readme if i not in real and i not in synthetic_ids]
        sample = cardless[:10] + [i for i in synthetic_ids if listed_readme[i]][:10]
        assert card_only and all(listed_readme[i] for i in card_only)  # their card is the model
        for model_id in sample + card_only[:5] + [i for i in real if i in listed_readme]:
            gated = bool(hub.catalogue.models[model_id].get("gated"))
            try:
                hf_hub_download(model_id, "README.md", endpoint=hub.url, cache_dir=tmp_path,
                                token="hf_" + "x" * 34 if gated else False)  # fmt: skip
                served = True
            except EntryNotFoundError:
                served = False
            assert served == listed_readme[model_id] or (listed_readme[model_id] and not served
                                                         and model_id in real)  # fmt: skip
