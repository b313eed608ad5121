"""Precision and recall of card-text identification against the cards' own metadata.

    .venv/bin/python bench/card_text.py DIR_OR_FILE... [--show-errors N]
    .venv/bin/python bench/card_text.py --replica      # the replica's records and READMEs

Each argument is a README.md (YAML front matter + Markdown) or a folder of them (searched
recursively for *.md); `--replica` reads the bundled snapshot's models instead (recorded API
bodies and card-derived models, each with the README the replica serves).

Base models: for every card whose metadata names base models and whose text states some in a
tool sentence, the text's finds are compared with the metadata's: a find the metadata also
names is a true positive, one it does not name a false positive, a metadata entry the text
does not state a miss. Datasets: every card whose metadata names datasets and whose text has
the "fine-tuned version of [X](...) on ..." sentence. The metadata is the reference; where it
is itself incomplete, a "false positive" may be right (see --show-errors). The first line
counts cards whose metadata / text names any, and those where only the text does (what the
card-text rules add, since the pipeline uses the text only when the metadata is silent).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from hfharvest.identify.base_models import metadata_relations
from hfharvest.identify.card_text import stated_base_models, stated_datasets
from hfharvest.identify.datasets import identify_datasets
from hfharvest.replica import load_snapshot

_FRONT_MATTER = re.compile(r"\A\s*---\s*\n(?P<yaml>.*?)\n---\s*\n", re.S)


def card_record(path: Path) -> dict | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    match = _FRONT_MATTER.match(text)
    try:
        data = yaml.safe_load(match["yaml"]) if match else None
    except yaml.YAMLError:
        data = None
    data = data if isinstance(data, dict) else {}
    return {"card": text, "cardData": data, "library_name": data.get("library_name")}


class Score:
    def __init__(self) -> None:
        self.cards = self.tp = self.fp = self.fn = 0
        self.errors: list[str] = []

    def add(self, name: str, found: set[str], expected: set[str]) -> None:
        self.cards += 1
        self.tp += len(found & expected)
        self.fp += len(found - expected)
        self.fn += len(expected - found)
        if found != expected:
            self.errors.append(f"{name}: text {sorted(found)} metadata {sorted(expected)}")

    def line(self, kind: str) -> str:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else float("nan")
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else float("nan")
        return (
            f"{kind:<12} cards {self.cards:>6}  found {self.tp + self.fp:>6}  tp {self.tp:>6}  "
            f"fp {self.fp:>5}  missed {self.fn:>5}  precision {precision:6.1%}  "
            f"recall {recall:6.1%}"
        )


def replica_records() -> list[tuple[str, dict]]:
    records = []
    for model_id, repo in sorted(load_snapshot().models.items()):
        records.append((model_id, {**repo.to_json(), "card": repo.readme_text() or ""}))
    return records


def score(records) -> tuple[Score, Score, dict[str, int]]:
    """Scores, and counts: cards read, cards whose metadata names bases (datasets), cards whose
    text states some, and cards where only the text does (what card text adds)."""
    bases, datasets = Score(), Score()
    counts = dict.fromkeys(("cards", "meta bases", "text bases", "text-only bases"), 0)
    counts |= dict.fromkeys(("meta datasets", "text datasets", "text-only datasets"), 0)
    for name, record in records:
        counts["cards"] += 1
        meta_bases = set(metadata_relations(record))
        text_bases = set(stated_base_models(record))
        _count(counts, "bases", meta_bases, text_bases)
        if meta_bases and text_bases:
            bases.add(name, text_bases, meta_bases)
        meta_datasets = set(
            identify_datasets({"tags": record.get("tags"), "cardData": record.get("cardData")})
        )
        text_datasets = set(stated_datasets(record))
        _count(counts, "datasets", meta_datasets, text_datasets)
        if meta_datasets and _has_dataset_sentence(record["card"]):
            datasets.add(name, text_datasets, meta_datasets)
    return bases, datasets, counts


def _count(counts: dict, kind: str, meta: set, text: set) -> None:
    counts[f"meta {kind}"] += bool(meta)
    counts[f"text {kind}"] += bool(text)
    counts[f"text-only {kind}"] += bool(text and not meta)


def _has_dataset_sentence(text: str) -> bool:
    return re.search(r"fine-?tuned (?:version of|from) \[[^\]]*\]\([^)]*\) on ", text) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path)
    parser.add_argument("--replica", action="store_true", help="the replica's models instead")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N")
    args = parser.parse_args()
    if args.replica:
        records = replica_records()
    else:
        files = (
            f for path in args.paths for f in (path.rglob("*.md") if path.is_dir() else [path])
        )
        records = ((file.name, card_record(file)) for file in sorted(files))
    bases, datasets, counts = score(records)
    print(", ".join(f"{key}: {value}" for key, value in counts.items()))
    print(bases.line("base models"))
    print(datasets.line("datasets"))
    for kind, result in (("base models", bases), ("datasets", datasets)):
        for error in result.errors[: args.show_errors]:
            print(f"  {kind}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
