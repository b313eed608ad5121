"""The vocabularies the JSON-LD uses, bundled under vocab/ (see vocab/PROVENANCE.md).

Documents carry an inline `@context` of prefixes only, so reading them needs no network; the
terms behind the prefixes are defined in the bundled files, which `defined_terms()` reads.
"""

from __future__ import annotations

import gzip
from functools import cache
from importlib import resources

import rdflib

SCHEMA = "http://schema.org/"
FAIR4ML = "https://w3id.org/fair4ml#"
HFH = "urn:hfharvest:vocab:"
XSD = "http://www.w3.org/2001/XMLSchema#"
CONTEXT = {"schema": SCHEMA, "fair4ml": FAIR4ML, "hfh": HFH, "xsd": XSD}
# Namespaces whose every term must be defined in a bundled file (xsd is a datatype namespace).
CHECKED = (SCHEMA, FAIR4ML, HFH)

_FILES = {
    "fair4ml-0.1.0.jsonld": "json-ld",
    "schemaorg-26.0-current-http.ttl.gz": "turtle",
    "hfharvest.ttl": "turtle",
}


def vocab_path(name: str):
    return resources.files(__package__) / "vocab" / name


def expand(term: str) -> str:
    """`schema:name` -> `http://schema.org/name`."""
    prefix, _, local = term.partition(":")
    return CONTEXT[prefix] + local


def _read(name: str) -> str:
    data = vocab_path(name).read_bytes()
    return (gzip.decompress(data) if name.endswith(".gz") else data).decode("utf-8")


@cache
def vocabulary() -> rdflib.Graph:
    """The bundled vocabularies as one graph (parsed from the package, never fetched)."""
    graph = rdflib.Graph()
    for name, fmt in _FILES.items():
        graph.parse(data=_read(name), format=fmt)
    return graph


@cache
def defined_terms() -> frozenset[str]:
    """IRIs of the classes and properties the bundled vocabularies define."""
    graph = vocabulary()
    return frozenset(str(s) for s in graph.subjects(rdflib.RDF.type, None))
