"""The normalize stage on real records: FAIR4ML linked data, Parquet tables, the DuckDB catalogue
and (marked `postgres`, `make test-postgres`) a real PostgreSQL server.

One end-to-end run of the workflow against the replica hub harvests real snapshot models (BERT,
Llama 3.1 8B Instruct, deepset's RoBERTa with a model-index) and two synthetic ones whose
base-model links the replica declares (a quantized model and a finetune of the Llama model).
Expected values are read off those records by hand and written here.
"""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zlib
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pyshacl
import pytest
import rdflib
from loaded_modules import loaded_modules, uncovered
from pyld import jsonld
from whole_lookups import load_lookups
from workflow_runner import Workflow, rules_run

from hfharvest import jsonio
from hfharvest.entities import KINDS, entity_id
from hfharvest.jsonio import iter_entries, write_entries
from hfharvest.lineage import base_model_links
from hfharvest.normalize import catalogue, families, linked_stage, vocab
from hfharvest.normalize.doc_cache import DOCUMENT_CODE, DocumentCache
from hfharvest.normalize.fair4ml import Lookups, model_document
from hfharvest.normalize.inputs import ENTITY_FILES, RunInputs
from hfharvest.normalize.linked_data import OPTIONS, LinkedDataStats, pack, to_ntriples, written
from hfharvest.normalize.sections import card_sections
from hfharvest.normalize.stage import TABLES, load_facts
from hfharvest.normalize.tables import SCHEMAS
from hfharvest.replica import ReplicaHub

BERT = "google-bert/bert-base-uncased"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
SQUAD = "deepset/roberta-base-squad2"
DETR = "facebook/detr-resnet-50-panoptic"
GPT2 = "openai-community/gpt2"  # the Hub minted a DOI for its repository: doi:10.57967/hf/0039
GPT2_DOI = "https://doi.org/10.57967/hf/0039"
# Synthetic models of the replica at scale 50, seed 3 (their links are checked below): the
# smallest Hub with a finetune of the Llama model, and a quantized copy of a real model.
QUANTIZED = "replica-scale-3/vit-base-patch16-224-GGUF-4"
QUANTIZED_BASE = "google/vit-base-patch16-224"
LLAMA_CHILD = "replica-scale-1/Llama-3.1-8B-Instruct-ft-15"
HARVESTED = [BERT, LLAMA, SQUAD, DETR, GPT2, QUANTIZED, LLAMA_CHILD]
HUB = "https://huggingface.co/"
SHACL = "http://www.w3.org/ns/shacl#"
SCHEMA, FAIR4ML, HFH = vocab.SCHEMA, vocab.FAIR4ML, vocab.HFH
NORMALIZE_RULES = {"normalize_fair4ml", "normalize_tables", "build_catalogue"}
NORMALIZE_RULES |= {"plot_lineage_families"}
CONFIG = {
    "run_id": "norm",
    "hub": {"endpoint": "replica", "max_retries": 1},
    "hf": {"num_models": 0, "models_file": "ids.txt", "base_model_iterations": 2, "threads": 4},
    "arxiv": {"endpoint": "replica", "delay_s": 0},
    "replica": {"scale": 50, "seed": 3},
}


def test_the_replica_declares_the_synthetic_links_this_module_relies_on():
    with ReplicaHub(scale=50, seed=3) as hub:
        links = {m: base_model_links(r.to_json()) for m, r in hub.catalogue.models.items()}
    assert links[QUANTIZED] == [(QUANTIZED_BASE, "quantized")]
    assert links[LLAMA_CHILD] == [(LLAMA, "finetune")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workflow = Workflow(tmp_path_factory.mktemp("normalize"))
    (workflow.root / "ids.txt").write_text("\n".join(HARVESTED) + "\n")
    result = workflow.run(CONFIG)
    out = workflow.root / "data" / "2_normalized" / "hf" / CONFIG["run_id"]
    return workflow, result, out


def unzipped_lines(path: Path) -> list[str]:
    return gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()


def documents_of(out: Path) -> dict[str, dict]:
    lines = unzipped_lines(out / "fair4ml_models.jsonl.gz")
    return {doc["schema:name"]: doc for doc in map(json.loads, lines)}


@pytest.fixture(scope="module")
def documents(run) -> dict[str, dict]:
    return documents_of(run[2])


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def ids(value) -> set[str]:
    return {item["@id"] for item in as_list(value)}


def extraction(doc: dict, prop: str) -> dict[str, list[str]]:
    """source -> source fields, for one property of a document."""
    return {
        e["hfh:source"]: e["hfh:sourceField"]
        for e in doc["hfh:extraction"]
        if e["hfh:property"]["@id"] == prop
    }


# -- FAIR4ML documents ---------------------------------------------------------------------------
def test_every_harvested_model_and_ancestor_gets_one_document(run, documents):
    _, _, out = run
    # The seven asked for, and the one base model the replica holds (two Llama bases are not found).
    assert set(documents) == {*HARVESTED, QUANTIZED_BASE}
    stats = json.loads((out / "fair4ml_stats.json").read_text())
    assert stats["fair4ml_models.jsonl.gz"]["documents"] == 8


def test_bert_has_its_metadata_entities_and_card_sections(documents):
    doc = documents[BERT]
    assert doc["@type"] == "fair4ml:MLModel"
    assert doc["@id"] == HUB + BERT
    assert set(doc["schema:identifier"]) == {BERT, HUB + BERT}
    assert doc["schema:dateCreated"] == {"@value": "2022-03-02T23:29:04Z", "@type": "xsd:dateTime"}
    assert doc["fair4ml:sharedBy"]["@id"] == HUB + "google-bert"
    assert doc["schema:license"]["@id"] == "https://spdx.org/licenses/Apache-2.0.html"
    assert doc["schema:inLanguage"] == "en"
    assert doc["fair4ml:mlTask"]["schema:termCode"] == "fill-mask"
    datasets = {HUB + "datasets/bookcorpus", HUB + "datasets/wikipedia"}
    assert ids(doc["fair4ml:trainedOn"]) == datasets
    citation = doc["schema:citation"]
    assert citation["@id"] == "https://arxiv.org/abs/1810.04805"
    assert citation["schema:name"].startswith("BERT: Pre-training of Deep Bidirectional")
    # The card's sections, by the headings of bert-base-uncased's real README.
    assert doc["fair4ml:intendedUse"].startswith("You can use the raw model for either masked")
    assert doc["fair4ml:usageInstructions"].startswith("You can use this model directly with")
    assert doc["fair4ml:codeSampleSnippet"].startswith(">>> from transformers import pipeline")
    assert "biased" in doc["fair4ml:modelRisksBiasLimitations"].split("\n")[0]
    assert "fair4ml:fineTunedFrom" not in doc  # BERT has no base model


def test_every_property_says_where_it_came_from(documents):
    doc = documents[BERT]
    assert extraction(doc, "schema:license") == {"metadata": ["cardData.license"]}
    assert extraction(doc, "schema:citation") == {"metadata": ["tags"]}
    assert extraction(doc, "fair4ml:intendedUse") == {
        "card_text": ["card#Intended uses & limitations"]
    }
    assert extraction(doc, "fair4ml:modelRisksBiasLimitations") == {
        "card_text": ["card#Limitations and bias"]
    }
    described = {e["hfh:property"]["@id"] for e in doc["hfh:extraction"]}
    assert described == {k for k in doc if not k.startswith("@") and k != "hfh:extraction"}
    licence = next(e for e in doc["hfh:extraction"] if e["hfh:property"]["@id"] == "schema:license")
    assert licence["hfh:enrichedBy"] == ["spdx"]


def test_llama_finetune_keeps_each_base_with_its_relation(documents):
    doc = documents[LLAMA]
    bases = {HUB + "meta-llama/Llama-3.1-8B", HUB + "meta-llama/Meta-Llama-3.1-8B"}
    assert ids(doc["fair4ml:fineTunedFrom"]) == bases
    relations = {r["hfh:baseModel"]["@id"]: r["hfh:relation"] for r in doc["hfh:baseModelRelation"]}
    # The tag `base_model:finetune:meta-llama/Llama-3.1-8B`; the card's base_model names none.
    assert relations == {
        HUB + "meta-llama/Llama-3.1-8B": "finetune",
        HUB + "meta-llama/Meta-Llama-3.1-8B": "base_model",
    }
    assert doc["schema:license"]["@id"] == "https://llama.meta.com/llama3_1/license/"
    assert doc["schema:license"]["schema:identifier"] == "llama3.1"
    assert "fair4ml:intendedUse" not in doc  # gated: no README, so no card sections


def test_quantized_model_points_at_its_base(documents):
    doc = documents[QUANTIZED]
    assert ids(doc["fair4ml:fineTunedFrom"]) == {HUB + QUANTIZED_BASE}
    assert doc["hfh:baseModelRelation"]["hfh:relation"] == "quantized"
    assert documents[QUANTIZED_BASE]["@type"] == "fair4ml:MLModel"


def test_model_index_becomes_evaluations(documents):
    evaluations = as_list(documents[SQUAD]["fair4ml:hasEvaluation"])
    first = evaluations[0]
    assert first["@type"] == "fair4ml:MLModelEvaluation"
    assert first["fair4ml:evaluatedMLModel"] == {"@id": HUB + SQUAD}
    assert first["fair4ml:evaluationDataset"]["@id"] == HUB + "datasets/squad_v2"
    assert first["fair4ml:evaluationMetrics"] == ["exact_match", "f1", "total"]
    results = first["fair4ml:evaluationResults"]
    results = {r["schema:propertyID"]: r["schema:value"] for r in results}
    assert results == {"exact_match": 79.9309, "f1": 82.9501, "total": 11869}
    # deepset's card: 8 results on 5 datasets (squadshifts with four configs).
    assert len(evaluations) == 8
    evaluated_on = ids(documents[SQUAD]["fair4ml:evaluatedOn"])
    names = ("squad_v2", "squad", "adversarial_qa", "squad_adversarial", "squadshifts")
    assert evaluated_on == {HUB + "datasets/" + name for name in names}
    assert extraction(documents[SQUAD], "fair4ml:hasEvaluation") == {
        "metadata": ["cardData.model-index"]
    }


def test_repository_doi_is_an_identifier_not_a_citation(documents):
    doc = documents[GPT2]
    assert set(doc["schema:identifier"]) == {GPT2, HUB + GPT2, GPT2_DOI}
    assert "schema:citation" not in doc


def test_identifiers_come_from_the_identify_stage(run, tmp_path):
    """identified/identifiers.json holds the model's own ids (`doi:` for a repository DOI); the
    documents take them from there. With a file that names gpt2's Hub URL only, the DOI goes."""
    workflow, _, _ = run
    folder = workflow.run_folder(CONFIG)
    written = json.loads((folder / "identified" / "identifiers.json").read_text())
    assert written[GPT2] == ["doi:10.57967/hf/0039", HUB + GPT2]  # gpt2's `doi:` tag
    copy_of = tmp_path / "run"
    shutil.copytree(folder, copy_of, ignore=shutil.ignore_patterns(".records"))
    (copy_of / "identified" / "identifiers.json").write_text(json.dumps({GPT2: [HUB + GPT2]}))
    inputs = RunInputs.from_folder(copy_of)
    record = next(r for r in inputs.iter_models() if r["modelId"] == GPT2)
    document = model_document(record, load_lookups(inputs, max_chars=1000))
    assert set(document["schema:identifier"]) == {GPT2, HUB + GPT2}


def test_a_dataset_found_in_the_card_text_says_so(run, tmp_path):
    """identified/dataset_sources.json says where each dataset was found; the provenance of
    `trainedOn` follows it (no harvested model names a dataset in text only, so the file of a
    copy of the run says BERT's wikipedia came from the card's text)."""
    workflow, _, _ = run
    folder = workflow.run_folder(CONFIG)
    copy_of = tmp_path / "run"
    shutil.copytree(folder, copy_of, ignore=shutil.ignore_patterns(".records"))
    sources = {BERT: {"bookcorpus": "metadata", "wikipedia": "card_text"}}
    (copy_of / "identified" / "dataset_sources.json").write_text(json.dumps(sources))
    inputs = RunInputs.from_folder(copy_of)
    record = next(r for r in inputs.iter_models() if r["modelId"] == BERT)
    document = model_document(record, load_lookups(inputs, max_chars=1000))
    assert extraction(document, "fair4ml:trainedOn") == {
        "metadata": ["cardData.datasets"],
        "card_text": ["card"],
    }


def test_card_sections_ignore_headings_inside_code_and_front_matter():
    card = (
        "---\nlicense: mit\n---\n# Model\n\n## Usage\n\n```python\n# not a heading\nx = 1\n```\n"
        "\n## Limitations\n\nMay be wrong.\n"
    )
    sections = card_sections(card, 1000)
    assert sections["usageInstructions"].code == "# not a heading\nx = 1"
    assert sections["modelRisksBiasLimitations"].text == "May be wrong."
    assert "legal" not in sections  # `license: mit` is front matter, not a section


def test_template_sections_left_unfilled_are_not_written():
    """Cards made from the Hub's template keep its comments and placeholders where nothing was
    written; such a section says nothing."""
    card = (
        "# Uses\n\n<!-- Address questions around how the model is intended to be used -->\n\n"
        "## Direct Use\n\n[More Information Needed]\n\n"
        "# Bias, Risks, and Limitations\n\n<!-- technical limitations -->\n\n"
        "Biased towards English.\n"
    )
    sections = card_sections(card, 1000)
    assert "intendedUse" not in sections
    assert sections["modelRisksBiasLimitations"].text == "Biased towards English."


# -- RDF -----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def graph(run) -> rdflib.Graph:
    _, _, out = run
    return rdflib.Graph().parse(data="\n".join(unzipped_lines(out / "fair4ml.nt.gz")), format="nt")


def test_every_term_written_is_in_the_bundled_vocabularies(graph):
    defined = vocab.defined_terms()
    used = {str(p) for p in graph.predicates()}
    used |= {str(o) for o in graph.objects(None, rdflib.RDF.type)}
    checked = {term for term in used if term.startswith(vocab.CHECKED)}
    assert checked - defined == set()
    assert {FAIR4ML + "MLModel", FAIR4ML + "hasEvaluation", SCHEMA + "citation"} <= checked
    assert SCHEMA + "trainedOn" not in defined  # the check can fail: a made-up term is absent


def test_documents_expand_and_convert_to_the_same_triples(run, graph):
    """pyld's expansion then rdflib, rdflib's own JSON-LD parser, and the N-Triples file agree."""
    _, _, out = run
    union = rdflib.Graph()
    for name in ("fair4ml_models.jsonl.gz", "fair4ml_datasets.jsonl.gz"):
        for line in unzipped_lines(out / name):
            doc = json.loads(line)
            expanded = jsonld.expand(doc, {"documentLoader": OPTIONS["documentLoader"]})
            via_pyld = rdflib.Graph().parse(data=json.dumps(expanded), format="json-ld")
            direct = rdflib.Graph().parse(data=line, format="json-ld")
            assert set(via_pyld) == set(direct)
            assert not any(isinstance(t, rdflib.BNode) for triple in direct for t in triple)
            assert len(direct) == len(set(to_ntriples(doc).splitlines()))
            union += direct
    assert set(union) == set(graph)


def test_contexts_are_never_fetched():
    doc = {"@context": "https://w3id.org/fair4ml/context.jsonld", "@id": HUB + BERT}
    with pytest.raises(jsonld.JsonLdError):
        to_ntriples(doc)


def test_shacl_shapes_pass_and_catch_a_broken_model(graph):
    shapes = str(Path(vocab.__file__).with_name("shapes.ttl"))
    conforms, _, report = pyshacl.validate(graph, shacl_graph=shapes)
    assert conforms, report
    broken = rdflib.Graph() + graph
    broken.remove((rdflib.URIRef(HUB + BERT), rdflib.URIRef(SCHEMA + "name"), None))
    broken.add((rdflib.URIRef(HUB + BERT + "#base-model-9"), rdflib.RDF.type,
                rdflib.URIRef(HFH + "BaseModelRelation")))  # fmt: skip
    conforms, results, _ = pyshacl.validate(broken, shacl_graph=shapes)
    assert not conforms
    paths = {str(p) for p in results.objects(None, rdflib.URIRef(SHACL + "resultPath"))}
    assert paths == {SCHEMA + "name", HFH + "baseModel", HFH + "relation", HFH + "source"}


# -- tables and the catalogue --------------------------------------------------------------------
def test_tables_have_stable_keys_and_provenance(run):
    _, _, out = run
    tables = {name: pq.read_table(out / "tables" / f"{name}.parquet") for name in TABLES}
    models = tables["models"].to_pylist()
    assert {m["model_id"] for m in models} == {*HARVESTED, QUANTIZED_BASE}
    assert {m["run_id"] for m in models} == {"norm"}
    dois = {m["model_id"]: m["repository_doi"] for m in models}
    assert dois[GPT2] == "10.57967/hf/0039" and dois[BERT] is None
    links = {(r["model_id"], r["kind"], r["id"]): r for r in tables["model_entities"].to_pylist()}
    bert_paper = links[(BERT, "articles", "arxiv:1810.04805")]
    assert bert_paper["entity_id"] == entity_id("articles", "arxiv:1810.04805")
    assert (bert_paper["source"], bert_paper["source_field"]) == ("metadata", "tags")
    papers = {r["id"]: r for r in tables["entities_articles"].to_pylist()}
    assert papers["arxiv:1810.04805"]["title"].startswith("BERT")
    assert papers["arxiv:1810.04805"]["enriched"] is True
    edges = {(e["child"], e["parent"]): e for e in tables["lineage_edges"].to_pylist()}
    assert edges[(LLAMA_CHILD, LLAMA)]["relation"] == "finetune"
    assert edges[(QUANTIZED, QUANTIZED_BASE)]["relation"] == "quantized"
    failures = {(f["stage"], f["model_id"], f["reason"]) for f in tables["failures"].to_pylist()}
    assert ("add_ancestor_models", "meta-llama/Llama-3.1-8B", "not_found") in failures
    assert ("extract_from_file", LLAMA, "gated") in failures


# Answers written by hand from the records: Llama-3.1-8B-Instruct is a finetune of Llama-3.1-8B
# (llama3.1); the synthetic LLAMA_CHILD a finetune of it (`license: mit`); only BERT is trained
# on wikipedia (Apache-2.0). Papers: tags and cards' arXiv links give each paper one model
# (BERT 1810.04805, Llama 2204.05149, DETR 2005.12872, ViT 2010.11929 and 2006.03677, QUANTIZED's
# card 1907.06616, LLAMA_CHILD's card 1406.2661, 1908.10084, 2006.10369, 2006.11316,
# 2210.11416), so the first three by id; of them only BERT's is in the replica's arXiv. Licences
# change from ViT (apache-2.0) to its quantized copy (cc-by-nc-4.0) and from Llama to its child.
EXPECTED = {
    ("descendants", (("model", "meta-llama/Llama-3.1-8B"),)): [
        (LLAMA, "meta-llama/Llama-3.1-8B", "finetune", 1, "llama3.1"),
        (LLAMA_CHILD, LLAMA, "finetune", 2, "MIT"),
    ],
    ("trained_on_under_license", (("dataset", "wikipedia"), ("license", "Apache-2.0"))): [
        (BERT,),
    ],
    ("papers_cited_most", (("limit", 3),)): [
        ("arxiv:1406.2661", None, 1),
        (
            "arxiv:1810.04805",
            "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
            1,
        ),
        ("arxiv:1907.06616", None, 1),
    ],  # fmt: skip
    ("license_changes", ()): [
        (QUANTIZED_BASE, "Apache-2.0", QUANTIZED, "CC-BY-NC-4.0", "quantized"),
        (LLAMA, "llama3.1", LLAMA_CHILD, "MIT", "finetune"),
    ],
}


@pytest.mark.parametrize(("query", "params"), list(EXPECTED))
def test_duckdb_answers_the_readme_questions(run, query, params):
    _, _, out = run
    answer = catalogue.ask(out / "catalogue.duckdb", query, run_id="norm", **dict(params))
    assert answer == EXPECTED[(query, params)]


def test_catalogue_holds_every_table_and_view(run):
    _, _, out = run
    with duckdb.connect(str(out / "catalogue.duckdb"), read_only=True) as db:
        found = db.execute("SELECT table_name FROM information_schema.tables").fetchall()
    names = {row[0] for row in found}
    assert set(TABLES) | {"descendants", "license_changes", "papers_cited_most"} <= names


def test_the_catalogue_job_loads_neither_pyarrow_nor_the_row_builders(tmp_path):
    """build_catalogue reads the Parquet files through DuckDB alone: what tables.py loads
    (pyarrow, rdflib, the row builders) was most of the job's start-up CPU."""
    files = {name: str(tmp_path / f"{name}.parquet") for name in TABLES}
    for name, path in files.items():
        pq.write_table(SCHEMAS[name].empty_table(), path)
    code = (
        "import sys, json\nfrom hfharvest.normalize.catalogue import build_catalogue\n"
        f"build_catalogue({files!r}, {str(tmp_path / 'c.duckdb')!r})\n"
        "print(json.dumps(sorted(n for n in sys.modules if n.split('.')[0] in"
        " ('pyarrow', 'rdflib') or n == 'hfharvest.normalize.tables')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [] and (tmp_path / "c.duckdb").is_file()


def test_report_draws_the_largest_families_from_the_edges(run):
    _, _, out = run
    edges = str(out / "tables" / "lineage_edges.parquet")
    graph = families.lineage_graph(edges)
    largest = families.largest_families(edges, 4)
    llama_bases = {"meta-llama/Llama-3.1-8B", "meta-llama/Meta-Llama-3.1-8B"}
    expected = [{*llama_bases, LLAMA, LLAMA_CHILD}, {QUANTIZED_BASE, QUANTIZED}]
    assert [set(family.drawn) for family in largest] == expected
    assert [family.size for family in largest] == [4, 2]
    assert graph.edges[LLAMA, LLAMA_CHILD]["relation"] == "finetune"
    picture = out / "report" / "lineage_families.png"
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_a_family_too_large_to_draw_shows_its_busiest_roots_first_generations(tmp_path):
    """A hub with 500 fine-tunes, each quantized once, beside a small family: the panel of the
    large one keeps the hub and its children up to the cap, its size the whole family's."""
    hub, lone = "meta-llama/Llama-3.1-8B", "google-bert/bert-base-uncased"
    children = [f"org/ft-{i:03d}" for i in range(500)]
    rows = [(c, hub, "finetune") for c in children] + [
        (f"{c}-GGUF", c, "quantized") for c in children
    ]
    rows.append((f"{lone}-ft", lone, "finetune"))
    path = tmp_path / "lineage_edges.parquet"
    child, parent, relation = (list(column) for column in zip(*rows, strict=True))
    pq.write_table(pa.table({"child": child, "parent": parent, "relation": relation}), path)
    big, small = families.largest_families(str(path), 4, max_drawn=300)
    assert (big.size, len(big.drawn)) == (1001, 300)
    assert set(big.drawn) == {hub, *children[:299]}  # the hub's children before grandchildren
    assert all(big.drawn.edges[hub, c]["relation"] == "finetune" for c in children[:299])
    assert (small.size, set(small.drawn)) == (2, {lone, f"{lone}-ft"})
    families.plot_families(str(path), str(tmp_path / "families.png"))
    assert (tmp_path / "families.png").read_bytes().startswith(b"\x89PNG")


# -- reruns --------------------------------------------------------------------------------------
def test_normalize_reruns_exactly_when_its_inputs_change(run):
    workflow, first, out = run
    written = {
        name: (out / name).read_bytes() for name in ("fair4ml_models.jsonl.gz", "fair4ml.nt.gz")
    }
    assert rules_run(first) >= NORMALIZE_RULES
    faster = copy.deepcopy(CONFIG) | {"normalize": {"batch_rows": 500}}
    assert rules_run(workflow.run(faster)) == set()  # how, not what: nothing is stale
    shorter = copy.deepcopy(CONFIG) | {"normalize": {"max_text_chars": 200}}
    assert rules_run(workflow.run(shorter)) == {"normalize_fair4ml"}
    stats = json.loads((out / "fair4ml_stats.json").read_text())["fair4ml_models.jsonl.gz"]
    assert stats["from_cache"] == 0  # another cap: other documents
    assert len(documents_of(out)[BERT]["fair4ml:intendedUse"]) == 200
    # Back to the first settings: every document comes from the cache, byte for byte the same.
    assert rules_run(workflow.run(CONFIG)) == {"normalize_fair4ml"}
    stats = json.loads((out / "fair4ml_stats.json").read_text())["fair4ml_models.jsonl.gz"]
    assert stats["from_cache"] == stats["documents"] == 8
    assert {name: (out / name).read_bytes() for name in written} == written


def test_a_document_is_cached_by_what_it_is_made_from(run, tmp_path):
    workflow, _, _ = run
    inputs = RunInputs.from_folder(workflow.run_folder(CONFIG))
    facts = load_facts(inputs, max_chars=1000)
    bert = next(r for r in inputs.iter_models() if r["modelId"] == BERT)
    text = facts.text(BERT)
    key = DocumentCache.key(facts.document_inputs(bert, text))
    harvested_again = {**bert, "downloads": 1, "extraction_metadata": {"extracted_at": "later"}}
    assert DocumentCache.key(facts.document_inputs(harvested_again, text)) == key
    new_commit = {**bert, "sha": "0" * 40}
    assert DocumentCache.key(facts.document_inputs(new_commit, text)) != key
    values = json.loads(text)  # each fact: the ids of a kind, relations, sources, own ids
    for index in range(len(values)):
        changed = jsonio.dumps_record([*values[:index], ["changed"], *values[index + 1 :]])
        assert DocumentCache.key(facts.document_inputs(bert, changed)) != key, index
    cache, slot = DocumentCache(tmp_path), f"model {BERT}"
    document = written({"@id": HUB + BERT, "name": "bert"}, "<a> <b> <c> .\n")
    cache.put(slot, key, document)
    assert cache.get(slot, key) == document
    assert document.line == json.dumps({"@id": HUB + BERT, "name": "bert"}) + "\n"
    assert (document.nodes, document.properties) == (1, ("name",))
    entry = next(tmp_path.rglob("*.nt"))
    stored = entry.read_bytes()
    entry.write_bytes(stored[:-1] + bytes([stored[-1] ^ 1]))  # damaged on disk
    assert cache.get(slot, key) is None and (cache.hits, cache.misses) == (1, 1)


def test_a_new_version_of_a_document_replaces_the_old_one(tmp_path):
    """Entries sit in a slot a model (or dataset) and hold their key: a model's new commit
    replaces its entry (content-addressed, every daily change of a model added one for ever),
    and the slot's entry serves its own key only."""
    cache, slot = DocumentCache(tmp_path), f"model {BERT}"
    old, new = "a" * 64, "b" * 64
    cache.put(slot, old, written({"@id": HUB + BERT, "name": "old"}, ""))
    cache.put(f"dataset {BERT}", old, written({"@id": HUB + BERT, "name": "dataset"}, ""))
    document = written({"@id": HUB + BERT, "name": "new"}, "<a> <b> <c> .\n")
    cache.put(slot, new, document)
    assert len(list(tmp_path.rglob("*.nt"))) == 2
    assert cache.get(slot, new) == document and cache.get(slot, old) is None
    assert json.loads(cache.get(f"dataset {BERT}", old).line)["name"] == "dataset"


def test_a_document_entry_is_stored_compressed_and_read_back_whole(tmp_path, monkeypatch):
    """Entries were the documents' text as it is, about 20 KB a model (2 GB of cache at 100 000
    models); now compressed. One whose checksum holds but which decompresses past the bound
    (a planted entry: the checksum is no secret) is a miss, never read whole into memory."""
    from hfharvest.normalize import doc_cache

    cache, slot, key = DocumentCache(tmp_path), f"model {BERT}", "ef" + "0" * 62
    triples = "".join(f'<{HUB}/m> <{HUB}/p> "value {i}" .\n' for i in range(2000))
    document = written({"@id": HUB + BERT, "name": "bert"}, triples)
    cache.put(slot, key, document)
    entry = next(tmp_path.rglob("*.nt"))
    assert entry.stat().st_size * 10 < len(triples)
    assert DocumentCache(tmp_path).get(slot, key) == document
    monkeypatch.setattr(doc_cache, "ENTRY_MAX_BYTES", len(triples) // 2)
    again = DocumentCache(tmp_path)
    assert again.get(slot, key) is None and again.misses == 1


# -- PostgreSQL (make test-postgres) -------------------------------------------------------------
@pytest.mark.postgres
def test_postgres_load_is_idempotent_and_answers_like_duckdb(run):
    from hfharvest.normalize import postgres

    dsn = os.environ["HFHARVEST_PG_DSN"]
    _, _, out = run
    tables = {name: out / "tables" / f"{name}.parquet" for name in TABLES}
    first = postgres.load_run(dsn, tables, "norm", batch_rows=100)
    again = postgres.load_run(dsn, tables, "norm", batch_rows=100)
    other = postgres.load_run(dsn, {"models": tables["models"]}, "other-run", batch_rows=100)
    assert first == again and first["models"] == 8 and other["models"] == 8
    counted = postgres.ask(dsn, "trained_on_under_license", run_id="norm",
                           dataset="wikipedia", license="Apache-2.0")  # fmt: skip
    assert counted == [(BERT,)]
    for (query, params), expected in EXPECTED.items():
        answer = postgres.ask(dsn, query, run_id="norm", **dict(params))
        assert [tuple(row) for row in answer] == expected, query


@pytest.mark.postgres
def test_a_nul_in_a_hub_value_is_loaded_as_a_replacement_character(run, tmp_path):
    """JSON and Parquet hold NUL (a tag `"a\u0000b"`), PostgreSQL's text does not: the load
    failed whole on one such value."""
    from psycopg import connect

    from hfharvest.normalize import postgres

    dsn = os.environ["HFHARVEST_PG_DSN"]
    _, _, out = run
    source = out / "tables" / "entities_datasets.parquet"
    rows = pq.read_table(source).to_pylist()
    rows[0]["id"], rows[0]["languages"] = "nul\x00id", ["a\x00b", "c"]
    path = tmp_path / "entities_datasets.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=pq.read_schema(source)), path)
    loaded = postgres.load_run(dsn, {"entities_datasets": path}, "nul-run", batch_rows=3)
    assert loaded == {"entities_datasets": len(rows)}
    with connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT languages FROM hfharvest.entities_datasets "
                    "WHERE run_id = 'nul-run' AND id = %s", ["nul\ufffdid"])  # fmt: skip
        assert cur.fetchall() == [(["a\ufffdb", "c"],)]


@pytest.mark.postgres
def test_the_workflow_loads_postgres_and_never_writes_the_dsn(run):
    """With the DSN in the environment the run's `all` includes the load; no file holds it."""
    workflow, result, out = run
    assert "load_postgres" in rules_run(result)
    receipt = json.loads((out / "postgres_load.json").read_text())
    assert receipt["rows"]["models"] == 8
    password = os.environ["HFHARVEST_PG_DSN"].split(":")[2].split("@")[0]
    written = [p for p in workflow.root.rglob("*") if p.is_file() and ".venv" not in p.parts]
    assert not [p for p in written if password.encode() in p.read_bytes()]


# Modules a document writer loads that do not shape a document: package markers, the table
# names, error classes (and the token masking their messages), the atomic file writers and the
# number rules they read stage files by (answers: which texts json.loads may read).
NOT_SHAPING = {
    "hfharvest",
    "hfharvest.normalize",
    "hfharvest.errors",
    "hfharvest.redact",
    "hfharvest.jsonio",
    "hfharvest.answers",
}


def test_the_document_cache_key_covers_every_module_the_writers_load():
    """The cache key hashes DOCUMENT_CODE only (an edit of the tables keeps every entry): every
    hfharvest module a fresh interpreter loads to write documents must be in it."""
    loaded = loaded_modules("hfharvest.normalize.fair4ml, hfharvest.normalize.linked_data")
    assert len(loaded) > 8 and not uncovered(loaded, DOCUMENT_CODE, NOT_SHAPING)
    assert not any(name.startswith("normalize/tables") for name in DOCUMENT_CODE)


def test_odd_dataset_fields_are_no_crash_nor_nodes_of_their_own():
    """A Hub dataset's `description` or `pretty_name` can be any JSON (a card's YAML mapping):
    a mapping's slice raised TypeError, failing the whole normalize stage; a mapping with an
    `@id` wrote triples about any IRI, one without a blank node."""
    from hfharvest.normalize.fair4ml import Lookups, dataset_document

    hostile = {"@id": "http://evil.example/x", "@type": "schema:Person", "schema:name": "pwn"}
    odd = {"id": "squad", "enriched": True, "source": "hub_api", "description": {"a": [1]},
           "pretty_name": hostile, "license": "mit",
           "languages": ["en", {"@id": "http://e/"}]}  # fmt: skip
    lookups = Lookups({"datasets": {"org/m": ["squad"]}}, {}, {"datasets": {"squad": odd}})
    for document in (dataset_document(odd, 100), model_document({"modelId": "org/m"}, lookups)):
        triples = to_ntriples(document)
        assert "evil.example" not in triples and "http://e/" not in triples
        assert "_:" not in triples  # no blank node
    own = to_ntriples(dataset_document(odd, 100))
    assert (
        '<http://schema.org/license> "mit"' in own and '<http://schema.org/inLanguage> "en"' in own
    )
    assert "<http://schema.org/description>" not in own


def _within(seconds: float, call):
    """call()'s answer, or AssertionError when it has not answered within `seconds`."""
    import threading

    answer: list = []
    thread = threading.Thread(target=lambda: answer.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert answer, f"no answer within {seconds} s"
    return answer[0]


@pytest.mark.parametrize("planted", ["fifo", "dev_zero", "outside_file"])
def test_a_planted_document_cache_entry_is_dropped_never_read(tmp_path, planted):
    """The document cache read any path at its entry's name: a FIFO hung normalize_fair4ml, a
    link to /dev/zero read without end, a link out of the data root was served."""
    root, outside = tmp_path / "cache", tmp_path / "outside"
    cache, slot, key = DocumentCache(root), f"model {BERT}", "ab" + "0" * 62
    document = written({"@id": HUB + BERT, "name": "bert"}, "<a> <b> <c> .\n")
    cache.put(slot, key, document)
    entry = next(root.rglob("*.nt"))
    outside.mkdir()
    (outside / "entry").write_bytes(entry.read_bytes())  # a valid entry, elsewhere
    entry.unlink()
    if planted == "fifo":
        os.mkfifo(entry)
    else:
        entry.symlink_to("/dev/zero" if planted == "dev_zero" else outside / "entry")
    try:
        assert _within(10, lambda: cache.get(slot, key)) is None
    finally:
        if planted == "fifo" and entry.exists():  # let a reader stuck on it go
            os.close(os.open(entry, os.O_WRONLY | os.O_NONBLOCK))
    assert not entry.is_symlink() and not entry.exists()  # dropped: the next put writes it
    cache.put(slot, key, document)
    assert cache.get(slot, key) == document and (outside / "entry").read_bytes() != b""


def test_a_linked_document_cache_folder_takes_no_write_out_of_the_data_root(tmp_path):
    root, outside = tmp_path / "cache", tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    slot, key = f"model {BERT}", "cd" + "0" * 62
    (root / DocumentCache._name(slot)[:2]).symlink_to(outside)
    cache = DocumentCache(root)
    cache.put(slot, key, written({"@id": HUB + BERT}, ""))
    assert list(outside.iterdir()) == [] and cache.get(slot, key) is None


def _many_values_record(n: int) -> tuple[dict, Lookups]:
    """A model whose tags, `cardData.datasets` and arXiv tags name `n` entities each."""
    keywords, datasets = [f"kw{i}" for i in range(n)], [f"o/d{i}" for i in range(n)]
    articles = [f"arxiv:2101.{i:05d}" for i in range(n)]
    tags = keywords + [f"arxiv:{a.partition(':')[2]}" for a in articles]
    record = {"modelId": "org/m", "tags": tags, "cardData": {"datasets": datasets}}
    kinds = {"keywords": keywords, "datasets": datasets, "articles": articles}
    return record, Lookups({kind: {"org/m": ids} for kind, ids in kinds.items()}, {}, {})


def test_a_document_of_many_entities_takes_time_linear_in_them():
    """Each entity's provenance read the whole record's tags again, and each value was looked
    for in the property's list: 4 000 keywords, datasets and papers took 19 s, a million
    (the Hub's JSON cap allows it) would take days. 8 000 of each: well under a second now."""
    from hfharvest.normalize.origin import RecordOrigins

    record, lookups = _many_values_record(8000)
    started = time.process_time()
    document = model_document(record, lookups)
    origin = RecordOrigins(record)
    rows = [origin(kind, e) for kind, m in lookups.mappings.items() for e in m["org/m"]]
    assert time.process_time() - started < 5
    assert len(document["schema:keywords"]) == len(document["fair4ml:trainedOn"]) == 8000
    assert rows[0] == ("metadata", "tags") and rows[8000] == ("metadata", "cardData.datasets")
    assert rows[-1] == ("metadata", "tags")  # the articles, tagged


def test_long_lists_are_converted_in_parts_to_the_same_triples(monkeypatch):
    """pyld compares each value it adds with those its property holds: a document of 8 000
    keywords, datasets and papers took 60 s to convert, quadratic in them. Documents with a
    long list are converted in parts; the triples are those of one conversion."""
    from hfharvest.normalize import linked_data

    record, lookups = _many_values_record(30)
    record["cardData"]["model-index"] = [
        {
            "results": [
                {"dataset": {"type": f"o/d{i}"}, "metrics": [{"type": "acc", "value": i}]}
                for i in range(5)
            ]
        }  # fmt: skip
    ]
    document = model_document(record, lookups)
    whole = jsonld.to_rdf(document, OPTIONS)
    monkeypatch.setattr(linked_data, "LONG_LIST", 10)
    monkeypatch.setattr(linked_data, "SPLIT_VALUES", 4)
    parts = to_ntriples(document)
    assert sorted(parts.splitlines()) == sorted(whole.splitlines())
    monkeypatch.undo()
    record, lookups = _many_values_record(8000)
    document = model_document(record, lookups)
    started = time.process_time()
    triples = to_ntriples(document)
    assert time.process_time() - started < 15
    assert triples.count("\n") == len(set(triples.splitlines())) > 3 * 8000


def test_where_an_entity_was_stated_is_read_once_per_model():
    """The identify stage's dataset sources are on disk (a DiskMap): a model's whole map was
    decoded again for each of its datasets, 55 s for one model of 20 000 in normalize_tables."""
    from hfharvest.spill import DiskMap

    record, lookups = _many_values_record(12000)
    datasets = lookups.mappings["datasets"]["org/m"]
    sources = DiskMap([("org/m", dict.fromkeys(datasets, "metadata"))])
    lookups = Lookups(lookups.mappings, {}, {}, dataset_sources=sources)
    started = time.process_time()
    document = model_document(record, lookups)
    assert time.process_time() - started < 5
    assert len(document["fair4ml:trainedOn"]) == 12000
    assert lookups.stated("datasets", "org/m")["o/d7"] == "metadata"


def test_a_long_document_with_blank_nodes_is_converted_whole(monkeypatch):
    """Blank node labels are per conversion: two parts would both call their own `_:b0`, and
    two different nodes would become one. Such a document is converted in one piece."""
    from hfharvest.normalize import linked_data

    s = "http://schema.org/"
    document = {
        "@id": "http://example.org/m",
        f"{s}keywords": [f"k{i}" for i in range(12)],
        f"{s}isBasedOn": [
            {
                "@id": f"http://example.org/b{i}",
                f"{s}author": {f"{s}name": f"person {i}"},
                f"{s}keywords": [f"b{i}-{k}" for k in range(4)],
            }  # a part each, at 4 values
            for i in range(2)
        ],
    }
    whole = jsonld.to_rdf(document, OPTIONS)
    monkeypatch.setattr(linked_data, "LONG_LIST", 10)
    monkeypatch.setattr(linked_data, "SPLIT_VALUES", 4)
    parts = to_ntriples(document)
    assert sorted(parts.splitlines()) == sorted(whole.splitlines())
    assert len(set(re.findall(r"_:\w+", parts))) == 2  # two authors, two blank nodes


# -- blocks --------------------------------------------------------------------------------------
def _slot(index: int, cut: bool) -> str:
    """A model's slot that ends a block (its CRC-32 is 0 modulo BLOCK_EVERY) or not."""
    for n in itertools.count():
        slot = f"model org/m{index}-{n}"
        if (zlib.crc32(slot.encode()) % linked_stage.BLOCK_EVERY == 0) == cut:
            return slot
    raise AssertionError("unreachable")


def _items(slots: list[str], keys: list[str], made: list[str]) -> list:
    """Items of `_blocks` whose documents name their key; `made` collects the keys made."""

    def item(slot: str, key: str):
        def make():
            made.append(key)
            triple = f'<{HUB}{key}> <{HUB}name> "{key}" .\n'
            return written({"@id": HUB + key, "name": key}, triple), True

        return slot, key, make

    return [item(slot, key) for slot, key in zip(slots, keys, strict=True)]


def _unpacked(blocks) -> tuple[str, str, dict]:
    blocks = list(blocks)
    lines = b"".join(gzip.decompress(block.lines) for block in blocks).decode()
    triples = b"".join(gzip.decompress(block.triples) for block in blocks).decode()
    counted = LinkedDataStats()
    for block in blocks:
        counted.add(block.stats)
    return lines, triples, counted.as_dict()


def test_a_rerun_copies_every_block_but_the_changed_models(tmp_path, monkeypatch):
    """Documents are written in blocks cut at their models' ids, each cached compressed: a
    changed model (moved to the front of the listing, as the Hub lists it) is made and
    compressed again, with the rest of its old block and the new front block; every other block
    is copied as it was, the new versions replace the old entries, and the files hold what a run
    without a cache writes."""
    monkeypatch.setattr(linked_stage, "MIN_BLOCK", 2)
    slots = [_slot(i, cut=i % 4 == 3) for i in range(20)]  # blocks of four
    keys = [f"{i:064x}" for i in range(20)]
    cache, made = DocumentCache(tmp_path), []
    list(linked_stage._blocks(_items(slots, keys, made), cache))
    assert made == keys
    changed = f"{99:064x}"  # the 10th model's new version, listed second
    rerun = [slots[0], slots[9], *slots[1:9], *slots[10:]]
    rerun_keys = [keys[0], changed, *keys[1:9], *keys[10:]]
    made.clear()
    packed = []
    monkeypatch.setattr(
        linked_stage, "pack", lambda docs: packed.append(list(docs)) or pack(packed[-1])
    )
    again = DocumentCache(tmp_path)
    copied = _unpacked(linked_stage._blocks(_items(rerun, rerun_keys, made), again))
    assert made == [changed]
    # The front block (5 documents, then cut) and the changed model's old block, repacked.
    names = [[json.loads(document.line)["name"] for document in docs] for docs in packed]
    assert names == [[keys[0], changed, *keys[1:4]], [keys[8], keys[10], keys[11]]]
    assert again.hits == len(rerun) - 1
    assert copied == _unpacked(linked_stage._blocks(_items(rerun, rerun_keys, []), None))
    # As many entries as after the first run: 20 documents and 5 blocks.
    assert len(list(tmp_path.rglob("*.nt"))) == 20
    assert len(list((tmp_path / "blocks").rglob("*.gz"))) == 5


def _linked_data(inputs: RunInputs, out: Path, cache: DocumentCache | None) -> tuple[dict, dict]:
    """The stats and the decompressed files of normalize_linked_data."""
    names = ("fair4ml_models.jsonl.gz", "fair4ml_datasets.jsonl.gz", "fair4ml.nt.gz")
    stats = linked_stage.normalize_linked_data(inputs, *(out / name for name in names), 1000, cache)
    return stats, {name: gzip.decompress((out / name).read_bytes()) for name in names}


def test_cached_blocks_give_the_files_of_a_run_without_a_cache(run, tmp_path, monkeypatch):
    """Blocks of two documents: the rerun copies them all, then a damaged block is made again
    from its documents; the files decompress to what a run without a cache writes."""
    monkeypatch.setattr(linked_stage, "MAX_BLOCK", 2)
    inputs = RunInputs.from_folder(run[0].run_folder(CONFIG))
    plain_stats, plain = _linked_data(inputs, tmp_path / "plain", None)
    cache = tmp_path / "cache"
    for attempt in range(3):
        stats, files = _linked_data(inputs, tmp_path / f"run{attempt}", DocumentCache(cache))
        assert files == plain
        models = stats["fair4ml_models.jsonl.gz"]
        assert models.pop("from_cache") == (0 if attempt == 0 else models["documents"])
        assert stats == plain_stats
        blocks = sorted((cache / "blocks").rglob("*.gz"))
        assert len(blocks) == _members(tmp_path / f"run{attempt}" / "fair4ml.nt.gz") >= 4
        blocks[0].write_bytes(blocks[0].read_bytes().replace(b'"nodes": ', b'"nodes": 1'))


def test_a_document_from_its_models_facts_is_the_one_the_whole_maps_give(run):
    """The stage reads each model's facts (identify's files merged, one lookup a model) and the
    enriched entities; each document is the one the run's whole maps, a map a file, give."""
    inputs = RunInputs.from_folder(run[0].run_folder(CONFIG))
    facts, whole = load_facts(inputs, 1000), load_lookups(inputs, max_chars=1000)
    records = list(inputs.iter_models())
    for record in records:
        own = facts.lookups(record["modelId"], facts.text(record["modelId"]))
        assert model_document(record, own) == model_document(record, whole)
    assert inputs.named("datasets") == sorted(
        {d for ids in whole.mappings["datasets"].values() for d in ids}
    )
    assert len(records) == 8 and inputs.named("datasets")


def _facts_files(folder: Path, drop: str | None = None, swap: bool = False) -> RunInputs:
    """Identify's files of 40 models (one value a file per model), but `drop` missing from the
    relations and, with `swap`, two of the licences' entries out of order; no dataset sources."""
    ids = [f"org/m{index:02}" for index in range(40)]
    files = {kind: folder / f"{kind}.json" for kind in KINDS}
    files |= {"relations": folder / "relations.json", "identifiers": folder / "identifiers.json"}
    for number, (name, path) in enumerate(files.items()):
        kept = [model for model in ids if not (name == "relations" and model == drop)]
        entries = [(model, [f"{name}-{number}", {"é": index}] if index % 3 else [])
                   for index, model in enumerate(kept)]  # fmt: skip
        if swap and name == "licenses":
            entries[5], entries[6] = entries[6], entries[5]
        write_entries(path, entries)
    return RunInputs(ids, {kind: files[kind] for kind in KINDS}, files["relations"], {},
                     identifiers=files["identifiers"])  # fmt: skip


def test_a_models_facts_are_its_value_in_each_identify_file(tmp_path, monkeypatch):
    """The facts of each model are the text dumps_record gives of its value in each identify
    file (null where a file has none), whether the files list the same models in the same order
    (chunks of lines compared whole), one lacks a model, or one is not in order."""
    monkeypatch.setattr(jsonio, "ENTRY_CHUNK", 200)  # a few lines a chunk
    for name, drop, swap in (("aligned", None, False), ("dropped", "org/m17", False),
                             ("unsorted", None, True)):  # fmt: skip
        folder = tmp_path / name
        folder.mkdir()
        inputs = _facts_files(folder, drop, swap)
        files = [*(inputs.identified[kind] for kind in KINDS), inputs.relations, None,
                 inputs.identifiers]  # fmt: skip
        maps = [dict(iter_entries(path)) if path else {} for path in files]
        facts = inputs.facts_of()
        assert len(facts) == 40, name
        for model in inputs.models:
            expected = jsonio.dumps_record([values.get(model) for values in maps])
            assert facts.text(model) == expected, (name, model)


def _with_entity(folder: Path, kind: str, entity: str, **fields) -> None:
    """The run's enrich output of `kind` with `fields` of one entity changed."""
    path = folder / ENTITY_FILES[kind]
    items = json.loads(path.read_text())
    for item in items:
        if item["id"] == entity:
            item.update(fields)
    path.write_text(json.dumps(items))


@pytest.mark.parametrize(
    ("kind", "entity", "fields"),
    [("datasets", "wikipedia", {"description": "changed"}),
     ("licenses", "Apache-2.0", {"name": "Apache Licence"}),
     ("datasets", "squad_v2", {"enriched": False})],
)  # fmt: skip
def test_an_entity_change_makes_exactly_the_documents_naming_it_again(run, tmp_path, kind,
                                                                     entity, fields):  # fmt: skip
    """A model's document key holds a digest of each enriched entity it names: after one entity
    changed, the models naming it are made again, every other document comes from the cache,
    and the files are those of a run without a cache."""
    folder = tmp_path / "run"
    shutil.copytree(run[0].run_folder(CONFIG), folder, ignore=shutil.ignore_patterns(".records"))
    inputs, cache = RunInputs.from_folder(folder), tmp_path / "cache"
    _linked_data(inputs, tmp_path / "first", DocumentCache(cache))
    _with_entity(folder, kind, entity, **fields)
    naming = {m for m, ids in json.loads((folder / "identified" / f"{kind}.json").read_text()
                                          ).items() if entity in ids}  # fmt: skip
    stats, files = _linked_data(inputs, tmp_path / "again", DocumentCache(cache))
    models = stats["fair4ml_models.jsonl.gz"]
    assert naming and models["documents"] - models.pop("from_cache") == len(naming)
    assert (stats, files) == _linked_data(inputs, tmp_path / "plain", None)


@pytest.mark.parametrize("name", ["datasets", "base_model_relations", "identifiers"])
def test_a_changed_fact_makes_exactly_that_models_document_again(run, tmp_path, name):
    """A model's document key holds its facts: after one model's value in one identify file
    changed (the ids it names, or what is not an entity), it alone is made again, and the files
    are those of a run without a cache."""
    folder = tmp_path / "run"
    shutil.copytree(run[0].run_folder(CONFIG), folder, ignore=shutil.ignore_patterns(".records"))
    inputs, cache = RunInputs.from_folder(folder), tmp_path / "cache"
    _linked_data(inputs, tmp_path / "first", DocumentCache(cache))
    path = folder / "identified" / f"{name}.json"
    entries = dict(iter_entries(path))
    entries[BERT] = {"squad": "metadata"} if name == "base_model_relations" else ["squad"]
    write_entries(path, sorted(entries.items()))
    stats, files = _linked_data(inputs, tmp_path / "again", DocumentCache(cache))
    models = stats["fair4ml_models.jsonl.gz"]
    assert models["documents"] - models.pop("from_cache") == 1
    assert (stats, files) == _linked_data(inputs, tmp_path / "plain", None)


def _members(path: Path) -> int:
    """How many gzip members the file holds."""
    data, count = path.read_bytes(), 0
    while data:
        member = zlib.decompressobj(31)
        member.decompress(data)
        data, count = member.unused_data, count + 1
    return count


def test_a_block_with_a_document_that_may_not_be_kept_is_not_cached(tmp_path, monkeypatch):
    """A model whose card the store could not give is written without its sections, and its
    document must not outlive the run: neither it nor its block is cached, the next run makes
    it again; the other blocks are copied."""
    monkeypatch.setattr(linked_stage, "MIN_BLOCK", 2)
    slots = [_slot(i, cut=i % 4 == 3) for i in range(8)]  # two blocks of four
    keys = [f"{i:064x}" for i in range(8)]
    cache, made = DocumentCache(tmp_path), []
    items = _items(slots, keys, made)
    unkept = items[5][2]
    items[5] = (slots[5], keys[5], lambda: (unkept()[0], False))
    list(linked_stage._blocks(items, cache))
    made.clear()
    again = DocumentCache(tmp_path)
    list(linked_stage._blocks(items, again))
    assert made == [keys[5]] and again.hits == 7
