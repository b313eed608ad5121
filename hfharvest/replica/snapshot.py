"""The replica's in-memory catalogue, built from the recorded Hub data in hub_snapshot/.

Three kinds of model live side by side: recorded API bodies, models derived from the old
transformers model cards, and synthetic `scale` models under their own authors (synthetic.py).
A recorded model's README is a real card (`cards/` or `hub_cards/`) or none at all: nothing is
generated under a real id, so a model whose card was not found answers 404 like a missing file.
Datasets are recorded API bodies (none so far) or records derived from the old dataset cards of
huggingface/datasets (`dataset_cards/`); a recorded body wins over a card-derived record.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml

DEFAULT_SNAPSHOT = Path(__file__).with_name("hub_snapshot")

# The day model_cards/ left the transformers repository: the newest a card-only model can be.
CARDS_REMOVED_AT = "2020-12-10T00:00:00.000Z"
# The dataset cards come from huggingface/datasets `datasets/<name>/README.md` (the folder left the
# repository in Sept/Oct 2022). The code index gives the commit of each capture but not its date, so
# card-derived dataset records carry this stated placeholder rather than an invented date.
DATASET_CARDS_AT = "2022-01-01T00:00:00.000Z"
# Front-matter keys the Hub turns into `<key>:<value>` dataset tags (older cards used the plurals).
DATASET_TAG_KEYS = {
    "task_categories": "task_categories",
    "task_ids": "task_ids",
    "language": "language",
    "languages": "language",
    "license": "license",
    "licenses": "license",
    "multilinguality": "multilinguality",
    "size_categories": "size_categories",
    "source_datasets": "source_datasets",
    "annotations_creators": "annotations_creators",
    "language_creators": "language_creators",
}

# One part of a Hub id as huggingface_hub validates it: no leading/trailing '-'/'.', no '--'/'..'.
_HUB_ID_PART = re.compile(r"(?![-.])(?!.*(?:--|\.\.))[A-Za-z0-9_.-]{1,96}(?<![-.])")
# Like the Hub, blank lines may precede the opening '---'; '--' delimiters do not count.
_FRONT_MATTER = re.compile(r"\A\s*---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)
_TITLE = re.compile(r"^# [^\r\n]*", re.M)
_HEADING = re.compile(r"#{1,6}[ \t]+(.*?)[ \t]*#*[ \t]*")
_FENCE = re.compile(r"[ \t]{0,3}(```|~~~)")
_PLACEHOLDER = re.compile(r"\[(More Information Needed|Needs More Information)\]")


@dataclass(slots=True, eq=False)
class Repo:
    """One repo as recorded (or derived from its card), with the changes made since."""

    id: str
    record: dict
    readme: str | None
    card_derived: bool = False
    fields: dict = field(default_factory=dict)  # values laid over `record` by change()
    readme_suffix: str = ""  # lines appended by change()

    def get(self, key: str, default=None):
        if key in self.fields:
            return self.fields[key]
        return self.record.get(key, default)

    def has(self, key: str) -> bool:
        return key in self.fields or key in self.record

    def to_json(self) -> dict:
        keys = {**dict.fromkeys(self.record), **dict.fromkeys(self.fields)}
        return {key: self.get(key) for key in keys if self.has(key)}

    def readme_text(self) -> str | None:
        return None if self.readme is None else self.readme + self.readme_suffix

    def change(self, when: str) -> None:
        """A new commit: new sha, `lastModified` = when, and a README one line longer."""
        self.fields["sha"] = _sha1(f"{self.get('sha')}:{when}")
        self.fields["lastModified"] = when
        if self.readme is not None:
            self.readme_suffix += f"\n<!-- updated on the replica hub at {when} -->\n"


@dataclass
class Catalogue:
    models: Mapping[str, Repo]  # a dict, or real and synthetic chained (synthetic.py)
    datasets: Mapping[str, Repo]
    redirects: dict[str, str]  # old model id -> current id
    tasks: bytes  # recorded body of GET /api/tasks
    expand_only: dict[str, dict] = field(default_factory=dict)  # fields served only via ?expand=
    croissant: dict[str, bytes] = field(default_factory=dict)  # dataset id -> Croissant JSON-LD
    arxiv: dict[str, dict] = field(default_factory=dict)  # arXiv id (no version) -> metadata


def load_snapshot(
    snapshot_dir: Path = DEFAULT_SNAPSHOT, *, scale: int = 0, seed: int = 0
) -> Catalogue:
    """Load the snapshot, adding `scale` synthetic models (deterministic for a given seed)."""
    root = Path(snapshot_dir)
    api = root / "api"
    redirects = _load_redirects(api / "redirects.json")
    # cards/: the 2020 transformers model cards; hub_cards/: real cards of recorded models.
    cards = _load_cards(root / "cards") | _load_cards(root / "hub_cards")
    models = _recorded_models(_load_bodies(api / "models"), cards, redirects)
    models.update(_card_models(cards, models, redirects))
    datasets = _load_bodies(api / "datasets")
    dataset_cards = _load_cards(root / "dataset_cards")
    datasets = {i: Repo(i, record, dataset_cards.get(i)) for i, record in datasets.items()}
    datasets.update(_card_datasets(dataset_cards, datasets))
    expand_only = _expand_only_fields(api / "models-expand", models)
    tasks = (api / "tasks.json").read_bytes()
    arxiv = _load_arxiv(root / "arxiv")
    if scale > 0:  # imported here: numpy is loaded only by a scaled replica
        from .synthetic import Chained, SyntheticDatasets, SyntheticHub

        hub = SyntheticHub(models, datasets, arxiv, scale, seed)
        models, datasets = Chained(models, hub), Chained(datasets, SyntheticDatasets(hub))
    catalogue = Catalogue(models, datasets, redirects, tasks, expand_only)
    catalogue.croissant = _load_croissant(api / "croissant")
    catalogue.arxiv = arxiv
    return catalogue


def parse_front_matter(text: str) -> dict | None:
    """The card's YAML metadata, or None when the delimiters or the YAML are broken."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return None
    return data if isinstance(data, dict) else None


def is_valid_hub_id(repo_id: str) -> bool:
    parts = repo_id.split("/")
    return len(parts) <= 2 and all(_HUB_ID_PART.fullmatch(part) for part in parts)


def iso_timestamp(seconds: float) -> str:
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _sha1(text: str | bytes) -> str:
    return hashlib.sha1(text.encode() if isinstance(text, str) else text).hexdigest()


def _load_bodies(folder: Path) -> dict[str, dict]:
    bodies = (json.loads(path.read_bytes()) for path in sorted(folder.glob("*.json")))
    return {body["id"]: body for body in bodies}


def _load_croissant(folder: Path) -> dict[str, bytes]:
    """Recorded Croissant JSON-LD by dataset id: `org__name.json` is org/name, `name.json` name."""
    return {
        path.stem.replace("__", "/", 1): path.read_bytes() for path in sorted(folder.glob("*.json"))
    }


# What every arXiv API entry has: a paper is stored only when real sources give all three.
ARXIV_REQUIRED = ("id", "title", "published")


def _load_arxiv(folder: Path) -> dict[str, dict]:
    """arXiv metadata records (one JSON file per paper), keyed by their versionless `id`."""
    records = {}
    for path in sorted(folder.glob("*.json")):
        record = json.loads(path.read_bytes())
        missing = [key for key in ARXIV_REQUIRED if not record.get(key)]
        if missing:
            raise ValueError(f"{path.name}: an arXiv record needs {', '.join(missing)}")
        records[record["id"]] = record
    return records


def _load_redirects(path: Path) -> dict[str, str]:
    redirects = {}
    for requested, recording in json.loads(path.read_bytes()).items():
        location = recording["response"]["headers"]["Location"][0]
        redirects[requested.split("?")[0]] = urlsplit(location).path.removeprefix("/api/models/")
    return redirects


def _load_cards(folder: Path) -> dict[str, str]:
    """Card text by model id: `org__name.md` -> org/name, flat `name.md` -> name."""
    # Decoded from bytes so CRLF endings survive and the served bytes equal the file's.
    return {
        path.stem.replace("__", "/", 1): path.read_bytes().decode("utf-8")
        for path in sorted(folder.glob("*.md"))
    }


def _recorded_models(bodies: dict, cards: dict, redirects: dict) -> dict[str, Repo]:
    models = {}
    for model_id, record in bodies.items():
        # A card may be filed under an old id that now redirects here (bert-base-uncased).
        names = [model_id, *(old for old, new in redirects.items() if new == model_id)]
        card = next((cards[name] for name in names if name in cards), None)
        models[model_id] = Repo(model_id, record, card)
    return models


def _card_models(cards: dict, models: dict, redirects: dict) -> dict[str, Repo]:
    used = set(models) | {old for old, new in redirects.items() if new in models}
    return {
        model_id: Repo(model_id, _record_from_card(model_id, text), text, card_derived=True)
        for model_id, text in cards.items()
        if model_id not in used and is_valid_hub_id(model_id)
    }


def _record_from_card(model_id: str, text: str) -> dict:
    meta = parse_front_matter(text)
    record = {
        "_id": _sha1(model_id)[:24],
        "id": model_id,
        "modelId": model_id,
        "author": model_id.split("/")[0] if "/" in model_id else None,
        "sha": _sha1(text),
        "lastModified": CARDS_REMOVED_AT,
        "createdAt": CARDS_REMOVED_AT,
        "private": False,
        "disabled": False,
        "gated": False,
        # The card sat in huggingface/transformers' model_cards/, kept for transformers models.
        # Download and like counts are unknown: left out, not made up.
        "library_name": "transformers",
        "tags": _tags_from_card_data(meta or {}),
    }
    if isinstance((meta or {}).get("pipeline_tag"), str):
        record["pipeline_tag"] = meta["pipeline_tag"]
    if meta is not None:
        record["cardData"] = meta
    record["siblings"] = [{"rfilename": "README.md"}]
    return record


def _tags_from_card_data(meta: dict) -> list[str]:
    tags = ["transformers", *_strings(meta.get("language"), split_commas=True)]
    tags += [f"license:{value}" for value in _strings(meta.get("license"))]
    tags += [f"dataset:{value}" for value in _strings(meta.get("datasets"))]
    tags += _strings(meta.get("tags"))
    return list(dict.fromkeys(tags))


def _strings(value, *, split_commas: bool = False) -> list[str]:
    """Scalar or list metadata as a list of non-empty strings (nested structures are dropped)."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    texts = [str(item) for item in items if isinstance(item, str | int | float)]
    if split_commas:
        texts = [part for text in texts for part in text.split(",")]
    return [text.strip() for text in texts if text.strip()]


def _card_datasets(cards: dict, recorded: dict) -> dict[str, Repo]:
    """Dataset records derived from the captured dataset cards; recorded API bodies win."""
    return {
        dataset_id: Repo(dataset_id, _record_from_dataset_card(dataset_id, text), text, True)
        for dataset_id, text in cards.items()
        if dataset_id not in recorded and is_valid_hub_id(dataset_id)
    }


def _record_from_dataset_card(dataset_id: str, text: str) -> dict:
    """A dataset record shaped like the Hub's, with what the card says and nothing invented."""
    meta = parse_front_matter(text)
    record = {
        "_id": _sha1(f"datasets/{dataset_id}")[:24],
        "id": dataset_id,
        "author": dataset_id.split("/")[0] if "/" in dataset_id else None,
        "sha": _sha1(text),
        "lastModified": DATASET_CARDS_AT,
        "createdAt": DATASET_CARDS_AT,
        "private": False,
        "disabled": False,
        "gated": False,
        "tags": _dataset_tags(meta or {}),  # download and like counts are unknown: left out
    }
    if meta is not None:
        record["cardData"] = meta
        if isinstance(meta.get("paperswithcode_id"), str):
            record["paperswithcode_id"] = meta["paperswithcode_id"]
    if (description := _card_section(text, "Dataset Summary")) and not _PLACEHOLDER.match(
        description
    ):
        record["description"] = description
    if citation := _bibtex(_card_section(text, "Citation Information")):
        record["citation"] = citation
    record["siblings"] = [{"rfilename": "README.md"}]
    return record


def _dataset_tags(meta: dict) -> list[str]:
    """`<key>:<value>` tags from the front matter, as the Hub derives them for datasets."""
    tags = [
        f"{tag}:{value}"
        for key, tag in DATASET_TAG_KEYS.items()
        for value in _strings(meta.get(key))
    ]
    return list(dict.fromkeys(tags))


def _card_section(text: str, title: str) -> str | None:
    """The body of the card section headed `title` (`### Title` or `### [Title](#anchor)`)."""
    lines = text[_front_matter_end(text) :].splitlines()
    body: list[str] | None = None
    fenced = False
    for line in lines:
        heading = None if fenced else _HEADING.fullmatch(line)
        if _FENCE.match(line):
            fenced = not fenced
        if heading is not None:
            if body is not None:
                break
            name = re.sub(r"^\[(.*)\]\([^)]*\)$", r"\1", heading.group(1))
            if name.strip().lower() == title.lower():
                body = []
        elif body is not None:
            body.append(line)
    section = "\n".join(body or []).strip()
    return section or None


def _bibtex(section: str | None) -> str | None:
    """The BibTeX of a citation section: its fenced blocks, else the text from the first `@`."""
    if not section:
        return None
    blocks, block = [], None
    for line in section.splitlines():
        if _FENCE.match(line):
            if block is None:
                block = []
            else:
                blocks.append("\n".join(block).strip())
                block = None
        elif block is not None:
            block.append(line)
    entries = [text for text in blocks if "@" in text]
    if entries:
        return "\n\n".join(entries)
    start = re.search(r"^@", section, re.M)
    return section[start.start() :].strip() if start else None


def _front_matter_end(text: str) -> int:
    match = _FRONT_MATTER.match(text)
    return match.end() if match else 0


def _expand_only_fields(folder: Path, models: dict[str, Repo]) -> dict[str, dict]:
    """Recorded ?expand= answers add fields a full body lacks (inferenceProviderMapping)."""
    extras: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")):
        body = json.loads(path.read_bytes())
        if (repo := models.get(body["id"])) is not None:
            fields = {key: value for key, value in body.items() if not repo.has(key)}
            extras.setdefault(repo.id, {}).update(fields)
    return extras
