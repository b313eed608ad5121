"""One model record and its entities -> one FAIR4ML 0.1.0 JSON-LD document.

The model is a `fair4ml:MLModel` with schema.org properties. Every node has an IRI (no blank
nodes), so documents written one per line concatenate into one graph, and their N-Triples can
be appended file to file. Provenance is a parallel node per (property, source), linked by
`hfh:extraction`: the property stays a plain triple, and a consumer filters values with
`hfh:source` (`metadata`, `card_text`, `enriched`) and `hfh:sourceField`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

from ..identify._fields import card_text
from .origin import CARD_TEXT, ENRICHED, METADATA, RecordOrigins, is_repository_doi
from .sections import card_sections
from .vocab import CONTEXT

HUB = "https://huggingface.co"
# Characters kept as they are in ids put into IRIs (Hub ids, DOIs); anything else is escaped.
_IRI_SAFE = "/:._-~()"


@dataclass(frozen=True)
class Lookups:
    """What the run knows besides the record: entity maps, relations, enriched entities."""

    mappings: dict[str, dict[str, list[str]]]  # kind -> model id -> entity ids
    relations: dict[str, dict[str, dict]]  # model id -> base id -> {relation, source}
    entities: dict[str, dict[str, dict]]  # kind -> entity id -> slim entity
    identifiers: dict[str, list[str]] | None = None  # model id -> own ids (identify stage)
    dataset_sources: dict[str, dict[str, str]] | None = None  # model id -> dataset -> source
    max_chars: int = 20_000  # cap on a card section or description written as text

    def ids(self, kind: str, model: str) -> list[str]:
        return self.mappings.get(kind, {}).get(model, [])

    def stated(self, kind: str, model: str) -> dict[str, str | None]:
        """{entity: `metadata` or `card_text`}, where the identify stage says it found each
        dataset or base of the model: read once per model (the maps are on disk, and decoding a
        model's whole map for each of its entities took time quadratic in them: 20 000 datasets
        of one model, 55 s)."""
        if kind == "datasets":
            return (self.dataset_sources or {}).get(model) or {}
        if kind == "base_models":
            bases = self.relations.get(model) or {}
            return {base: link.get("source") for base, link in bases.items()}
        return {}

    def entity(self, kind: str, entity: str) -> dict:
        return self.entities.get(kind, {}).get(entity) or {"id": entity, "enriched": False}


def model_iri(model_id: str) -> str:
    return f"{HUB}/{quote(model_id, safe=_IRI_SAFE)}"


def dataset_iri(dataset_id: str) -> str:
    return f"{HUB}/datasets/{quote(dataset_id, safe=_IRI_SAFE)}"


def article_iri(article: str) -> str:
    scheme, _, value = article.partition(":")
    base = "https://arxiv.org/abs/" if scheme == "arxiv" else "https://doi.org/"
    return base + quote(value, safe=_IRI_SAFE)


class _Node:
    """A node under construction that records, per property, where each value came from."""

    def __init__(self, iri: str, kind: str):
        self.iri = iri
        self.data: dict = {"@id": iri, "@type": kind}
        self.origins: dict[tuple[str, str], dict] = {}
        # Per property, the values it holds (as JSON text): a value is looked up here, not in
        # the list, which took time quadratic in a model's keywords or datasets.
        self._held: dict[str, set[str]] = {}

    def put(self, prop: str, value, source: str, field: str, enriched_by: str | None = None):
        if value is None or value == [] or value == "":
            return
        values = value if isinstance(value, list) else [value]
        current = self.data.get(prop)
        merged = current if isinstance(current, list) else [current] if current else []
        if (held := self._held.get(prop)) is None:
            held = self._held[prop] = {_held_key(v) for v in merged}
        for item in values:
            if (key := _held_key(item)) not in held:
                held.add(key)
                merged.append(item)
        self.data[prop] = merged if len(merged) > 1 or isinstance(value, list) else merged[0]
        origin = self.origins.setdefault(
            (prop, source),
            {
                "@id": f"{self.iri}#extraction-{prop.partition(':')[2]}-{source}",
                "@type": "hfh:PropertyExtraction",
                "hfh:property": {"@id": prop},
                "hfh:source": source,
                "hfh:sourceField": [],
            },
        )
        if field not in origin["hfh:sourceField"]:
            origin["hfh:sourceField"].append(field)
        if enriched_by and enriched_by not in origin.setdefault("hfh:enrichedBy", []):
            origin["hfh:enrichedBy"].append(enriched_by)
        iris = [v["@id"] for v in values if isinstance(v, dict) and "@id" in v]
        if iris:
            origin.setdefault("hfh:value", []).extend({"@id": i} for i in iris)

    def document(self) -> dict:
        if self.origins:
            self.data["hfh:extraction"] = list(self.origins.values())
        return {"@context": CONTEXT, **self.data}


def _held_key(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def model_document(record: dict, lookups: Lookups) -> dict:
    """The FAIR4ML JSON-LD document of one harvested model."""
    model_id = record["modelId"]
    node = _Node(model_iri(model_id), "fair4ml:MLModel")
    _basics(node, record, lookups)
    _entities(node, record, lookups)
    _lineage(node, model_id, lookups)
    _evaluations(node, record)
    _card_sections(node, record, lookups.max_chars)
    return node.document()


def _text(value) -> str | None:
    """A string field of an entity, or None: a Hub dataset's `pretty_name` or `description` can
    be any JSON (a card's YAML mapping), and a mapping written as a value is a JSON-LD node
    (with an `@id`, triples about any IRI; without, a blank node); a mapping's slice raised."""
    return value if isinstance(value, str) else None


def _texts(value) -> list[str]:
    """The strings of a list field of an entity (a string alone is a list of one)."""
    return [item for item in (value if isinstance(value, list) else [value]) if _text(item)]


def _date(value) -> dict | None:
    return {"@value": value, "@type": "xsd:dateTime"} if isinstance(value, str) and value else None


def repository_ids(model_id: str, lookups: Lookups) -> list[str]:
    """The model's own identifiers as IRIs: the identify stage's (`doi:10.57967/hf/...` becomes
    its doi.org IRI), else its Hub URL and the Hub-minted DOIs an older run kept as articles."""
    if lookups.identifiers is not None and model_id in lookups.identifiers:
        own = [i for i in lookups.identifiers[model_id] if i]
    else:
        own = [model_iri(model_id), *(a for a in lookups.ids("articles", model_id))]
    return [article_iri(i) if i.startswith("doi:") else i for i in own if _is_own_id(i)]


def _is_own_id(identifier: str) -> bool:
    return identifier.startswith(HUB + "/") or is_repository_doi(identifier)


def _basics(node: _Node, record: dict, lookups: Lookups) -> None:
    model_id = record["modelId"]
    node.put("schema:name", model_id, METADATA, "modelId")
    node.put("schema:identifier", [model_id], METADATA, "modelId")
    field = "identified/identifiers" if lookups.identifiers is not None else "modelId, articles"
    node.put("schema:identifier", repository_ids(model_id, lookups), METADATA, field)
    node.put("schema:url", {"@id": model_iri(model_id)}, METADATA, "modelId")
    node.put("schema:version", record.get("sha"), METADATA, "sha")
    node.put("schema:dateCreated", _date(record.get("createdAt")), METADATA, "createdAt")
    node.put("schema:dateModified", _date(record.get("last_modified")), METADATA, "last_modified")
    author = record.get("author")
    if isinstance(author, str) and author:
        sharer = {"@id": model_iri(author), "schema:name": author}
        node.put("fair4ml:sharedBy", sharer, METADATA, "author")


def _entities(node: _Node, record: dict, lookups: Lookups) -> None:
    model_id, origin = record["modelId"], RecordOrigins(record)
    for kind, prop, build in (
        ("licenses", "schema:license", _license),
        ("keywords", "schema:keywords", lambda e, lk: e["id"]),
        ("languages", "schema:inLanguage", lambda e, lk: e["id"]),
        ("tasks", "fair4ml:mlTask", _task),
        ("datasets", "fair4ml:trainedOn", _dataset),
        ("articles", "schema:citation", _article),
    ):
        stated = lookups.stated(kind, model_id)
        for entity_id in lookups.ids(kind, model_id):
            if kind == "articles" and is_repository_doi(entity_id):
                continue  # the model's own DOI: an identifier, not a citation
            entity = lookups.entity(kind, entity_id)
            source, field = origin(kind, entity_id, stated.get(entity_id))
            enriched_by = entity.get("source") if entity.get("enriched") else None
            node.put(prop, build(entity, lookups), source, field, enriched_by)


def _license(entity: dict, lookups: Lookups):
    url = entity.get("url")
    if not url and entity.get("spdx_id"):
        url = f"https://spdx.org/licenses/{entity['spdx_id']}.html"
    if not url:
        return entity["id"]  # a licence with no known page: its name, as text
    node = {"@id": url, "@type": "schema:CreativeWork", "schema:identifier": entity["id"]}
    if _text(entity.get("name")):
        node["schema:name"] = entity["name"]
    return node


def _task(entity: dict, lookups: Lookups) -> dict:
    node = {
        "@id": f"{HUB}/tasks/{quote(entity['id'], safe=_IRI_SAFE)}",
        "@type": "schema:DefinedTerm",
        "schema:termCode": entity["id"],
    }
    if _text(entity.get("label")):
        node["schema:name"] = entity["label"]
    return node


def _dataset(entity: dict, lookups: Lookups) -> dict:
    """The dataset as the model names it; its enriched fields are in its own document."""
    node = {
        "@id": dataset_iri(entity["id"]),
        "@type": "schema:Dataset",
        "schema:identifier": entity["id"],
        "schema:name": _text(entity.get("pretty_name")) or entity["id"],
    }
    return node


def dataset_document(entity: dict, max_chars: int) -> dict:
    """A training dataset's own document: written once, however many models name it."""
    iri = dataset_iri(entity["id"])
    node = _Node(iri, "schema:Dataset")
    node.put("schema:identifier", entity["id"], METADATA, "identified/datasets")
    node.put("schema:url", {"@id": iri}, METADATA, "identified/datasets")
    if entity.get("enriched"):
        source = entity.get("source")
        node.put("schema:name", _text(entity.get("pretty_name")), ENRICHED, "pretty_name", source)
        text = (_text(entity.get("description")) or "")[:max_chars]
        node.put("schema:description", text, ENRICHED, "description", source)
        node.put("schema:license", _texts(entity.get("license")), ENRICHED, "license", source)
        languages = _texts(entity.get("languages"))
        node.put("schema:inLanguage", languages, ENRICHED, "languages", source)
    return node.document()


def _article(entity: dict, lookups: Lookups) -> dict:
    node = {
        "@id": article_iri(entity["id"]),
        "@type": "schema:ScholarlyArticle",
        "schema:identifier": entity["id"],
    }
    if _text(entity.get("title")):
        node["schema:name"] = entity["title"]
    if _date(entity.get("published")):
        node["schema:datePublished"] = _date(entity["published"])
    if _text(entity.get("doi")):
        node["schema:sameAs"] = {"@id": article_iri(f"doi:{entity['doi']}")}
    return node


def _lineage(node: _Node, model_id: str, lookups: Lookups) -> None:
    """`fineTunedFrom` per base model, and the relation kept in a qualified node beside it."""
    for index, (base, link) in enumerate(sorted(lookups.relations.get(model_id, {}).items())):
        source = link.get("source") or METADATA
        base_node = {"@id": model_iri(base), "@type": "fair4ml:MLModel", "schema:name": base}
        node.put("fair4ml:fineTunedFrom", base_node, source, "base_model")
        qualified = {
            "@id": f"{node.iri}#base-model-{index}",
            "@type": "hfh:BaseModelRelation",
            "hfh:baseModel": {"@id": model_iri(base)},
            "hfh:relation": link["relation"],
            "hfh:source": source,
        }
        node.put("hfh:baseModelRelation", qualified, source, "base_model")


def _evaluations(node: _Node, record: dict) -> None:
    """`hasEvaluation`: one MLModelEvaluation per result of the card's `model-index`."""
    card = record.get("cardData")
    entries = card.get("model-index") if isinstance(card, dict) else None
    if not isinstance(entries, list):
        return
    results = [
        result
        for entry in entries
        if isinstance(entry, dict) and isinstance(entry.get("results"), list)
        for result in entry["results"]
        if isinstance(result, dict)
    ]
    for index, result in enumerate(results):
        evaluation = _evaluation(node.iri, index, result)
        node.put("fair4ml:hasEvaluation", evaluation, METADATA, "cardData.model-index")
        if dataset := evaluation.get("fair4ml:evaluationDataset"):
            tested = {"@id": dataset["@id"]}
            node.put("fair4ml:evaluatedOn", tested, METADATA, "cardData.model-index")


def _evaluation(model: str, index: int, result: dict) -> dict:
    iri = f"{model}#evaluation-{index}"
    task = result.get("task") if isinstance(result.get("task"), dict) else {}
    dataset = result.get("dataset") if isinstance(result.get("dataset"), dict) else {}
    metrics = [m for m in result.get("metrics") or [] if isinstance(m, dict)]
    node = {
        "@id": iri,
        "@type": "fair4ml:MLModelEvaluation",
        "fair4ml:evaluatedMLModel": {"@id": model},
    }
    task_name = task.get("name") or task.get("type")
    if isinstance(task_name, str):
        node["schema:name"] = task_name
    dataset_id = dataset.get("type") or dataset.get("name")
    if isinstance(dataset_id, str) and dataset_id:
        node["fair4ml:evaluationDataset"] = {
            "@id": dataset_iri(dataset_id),
            "@type": "schema:Dataset",
            "schema:identifier": dataset_id,
        }
        where = ", ".join(f"{k} {dataset[k]}" for k in ("config", "split") if dataset.get(k))
        if where:
            node["schema:description"] = f"on {dataset_id} ({where})"
    names = [str(m.get("type") or m.get("name")) for m in metrics if m.get("type") or m.get("name")]
    if names:
        node["fair4ml:evaluationMetrics"] = list(dict.fromkeys(names))
    results = [_result(iri, j, metric) for j, metric in enumerate(metrics) if "value" in metric]
    if results:
        node["fair4ml:evaluationResults"] = results
    return node


def _result(evaluation: str, index: int, metric: dict) -> dict:
    value = metric["value"]
    if not isinstance(value, int | float | str) or isinstance(value, bool):
        value = json.dumps(value, ensure_ascii=False)
    node = {"@id": f"{evaluation}-result-{index}", "@type": "schema:PropertyValue"}
    node["schema:value"] = value
    if metric.get("type"):
        node["schema:propertyID"] = str(metric["type"])
    if metric.get("name") or metric.get("type"):
        node["schema:name"] = str(metric.get("name") or metric["type"])
    return node


def _card_sections(node: _Node, record: dict, max_chars: int) -> None:
    # The card's first MB, as the identifiers read it: past that it is a data dump, not prose.
    sections = card_sections(card_text(record), max_chars)
    for prop, section in sections.items():
        node.put(f"fair4ml:{prop}", section.text, CARD_TEXT, f"card#{section.heading}")
    usage = sections.get("usageInstructions")
    if usage and usage.code:
        field = f"card#{usage.heading}"
        node.put("fair4ml:codeSampleSnippet", usage.code, CARD_TEXT, field)
