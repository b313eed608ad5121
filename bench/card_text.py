"""Precision and recall of card-text identification against the cards' own metadata.

    .venv/bin/python bench/card_text.py DIR_OR_FILE... [--show-errors N]

Each argument is a README.md (YAML front matter + Markdown) or a folder of them (searched
recursively for *.md). For every card whose metadata names base models (or datasets) and whose
text states some in a tool sentence, the text's finds are compared with the metadata's: a find
the metadata also names is a true positive, one it does not name a false positive, a metadata
entry the text does not state a miss. Only cards where the text states something count for
precision; recall is over every card that has the sentence. The metadata is the reference;
where it is itself incomplete, a "false positive" may be right (see --show-errors).
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


def score(paths: list[Path]) -> tuple[Score, Score, int]:
    bases, datasets, total = Score(), Score(), 0
    for path in paths:
        record = card_record(path)
        total += 1
        meta_bases = set(metadata_relations(record))
        text_bases = set(stated_base_models(record))
        if meta_bases and text_bases:
            bases.add(path.name, text_bases, meta_bases)
        meta_datasets = set(identify_datasets({"cardData": record["cardData"]}))
        text_datasets = set(stated_datasets(record))
        if meta_datasets and _has_dataset_sentence(record["card"]):
            datasets.add(path.name, text_datasets, meta_datasets)
    return bases, datasets, total


def _has_dataset_sentence(text: str) -> bool:
    return re.search(r"fine-?tuned (?:version of|from) \[[^\]]*\]\([^)]*\) on ", text) is not None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path)
    parser.add_argument("--show-errors", type=int, default=0, metavar="N")
    args = parser.parse_args()
    files = sorted(
        file for path in args.paths for file in (path.rglob("*.md") if path.is_dir() else [path])
    )
    bases, datasets, total = score(files)
    print(f"{total} cards read")
    print(bases.line("base models"))
    print(datasets.line("datasets"))
    for kind, result in (("base models", bases), ("datasets", datasets)):
        for error in result.errors[: args.show_errors]:
            print(f"  {kind}: {error}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
