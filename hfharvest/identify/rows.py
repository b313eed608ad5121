"""A kind's answer for one record in the form the identify stage caches and writes: the JSON
texts of the model's row, so that a reused answer goes to the files without being decoded and
encoded again. In this package because the cache keys on this package's code: a change of the
form is a new code version, and old entries miss.

Each kind's texts: its ids, sorted and distinct; datasets also each id's sources. Base models
keep the links as written (`written_links`) before their row: their relations depend on the
whole run's renames, and the row cached is the one without any (`relations_texts`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from .base_models import relations_from_links


def cached_texts(kind: str, answer, model: str | None = None) -> list[str]:
    """The texts of `answer` (what `per_model` gives for `kind` of `model`'s record)."""
    if kind == "base_models":
        return [dumps(answer), *_relations(model, answer, {})]
    payloads = answer if isinstance(answer, dict) else dict.fromkeys(answer)
    ids = sorted(payloads)
    if kind == "datasets":
        return [dumps(ids), dumps({i: payloads[i] for i in ids})]
    return [dumps(ids)]


def relations_texts(model: str, texts: list[str], renamed: Mapping[str, str]) -> list[str]:
    """A base-models row (ids, relations) from its cached texts and the run's renames."""
    if renamed and not renamed.keys().isdisjoint(links := json.loads(texts[0])):
        return _relations(model, links, renamed)
    return texts[1:]


def _relations(model: str | None, links: dict, renamed: Mapping[str, str]) -> list[str]:
    relations = relations_from_links(model, links, renamed)
    return [dumps(list(relations)), dumps(relations)]


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
