"""A synthetic Hub shaped like the real one (figures, sources: PROVENANCE-synthetic.md).

`scale` models live under their own authors `replica-scale-<k>` and are never stored as records:
the lineage graph (preferential attachment, the four relations, merges with several parents) and
the creation times are a few compact arrays built once from the seed; everything else of model
`i` (author, entities, card length, gated, card-less) is drawn on demand from a generator seeded by
(seed, i). So a million models start in seconds and hold a few tens of megabytes.

Card text is assembled from sections of the snapshot's real cards, under synthetic ids only.
Entities are drawn from Zipf-like popularity laws over sets that grow with N: datasets (the
snapshot's real dataset ids first, then `replica-scale-data/...`), arXiv papers (the snapshot's
real ids first, then syntactically valid ids numbered above any month's real submissions, which
the replica's arXiv route does not know), licences from the Hub's licence list and languages from
the ISO 639-1 codes.
"""

from __future__ import annotations

import json
import math
import random
import re
from array import array
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache

import numpy as np

from .snapshot import Repo, _sha1, iso_timestamp

AUTHOR_PREFIX = "replica-scale-"  # authors replica-scale-<k>: no real org is named so
DATA_AUTHOR = "replica-scale-data"  # synthetic datasets
RELATIONS = ("finetune", "adapter", "quantized", "merge")
# Name suffixes as the Hub's authors commonly mark a relation in the repo name.
_SUFFIX = {"": "", "finetune": "-ft", "adapter": "-lora", "quantized": "-GGUF", "merge": "-merge"}

# -- the parameters (each with its source in PROVENANCE-synthetic.md) --------------------------
ROOT_SHARE = 0.60  # models that declare no base model
RELATION_SHARES = {"finetune": 0.52, "adapter": 0.17, "quantized": 0.24, "merge": 0.07}
MERGE_EXTRA_PARENTS = (1, 1, 1, 2, 3)  # a merge has 2-4 parents
REAL_HUB_WEIGHT = 400  # the most downloaded real base starts as a hub with this attachment weight
AUTHORS_PER_MODEL = 0.25  # the author set grows with N; Zipf popularity over it
AUTHOR_ZIPF = 1.3
DATASET_SHARE, DATASETS_PER_MODEL, DATASET_ZIPF = 0.30, 0.25, 1.1
PAPER_SHARE, PAPERS_PER_MODEL, PAPER_ZIPF = 0.15, 0.10, 1.1
LICENSE_SHARE, LICENSE_ZIPF = 0.70, 2.0
LANGUAGE_SHARE, LANGUAGE_ZIPF = 0.35, 1.4
MULTILINGUAL_SHARE = 0.08
CARDLESS_SHARE = 0.25
GATED_SHARE = 0.01
CARD_MEDIAN, CARD_SIGMA = 1_800, 1.0  # log-normal body of the card length (characters)
CARD_TAIL_SHARE, CARD_TAIL_MIN, CARD_TAIL_ALPHA = 0.01, 20_000, 0.9  # Pareto tail
CARD_MAX = 4_000_000
START = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
END = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
GROWTH = 30.0  # the model count grows 30-fold over [START, END): exponential arrival times

# The Hub's licence identifiers (hub-docs repositories-licenses.md), most used first (the order
# of the head follows the Hub's licence filter counts; the tail keeps the page's order).
# fmt: off
LICENSES = (
    "apache-2.0", "mit", "other", "cc-by-nc-4.0", "llama3.1", "openrail", "cc-by-4.0", "llama3",
    "creativeml-openrail-m", "llama2", "gemma", "cc-by-sa-4.0", "llama3.2", "gpl-3.0",
    "cc-by-nc-sa-4.0", "unknown", "bsd-3-clause", "agpl-3.0", "openrail++", "cc0-1.0",
    "bigscience-openrail-m", "llama3.3", "cc-by-nc-nd-4.0", "afl-3.0", "artistic-2.0",
    "bsl-1.0", "bsd", "bsd-2-clause", "bsd-3-clause-clear", "c-uda", "cc", "cc-by-2.0",
    "cc-by-2.5", "cc-by-3.0", "cc-by-sa-3.0", "cc-by-nc-2.0", "cc-by-nc-3.0", "cc-by-nd-4.0",
    "cc-by-nc-nd-3.0", "cc-by-nc-sa-2.0", "cc-by-nc-sa-3.0", "cdla-sharing-1.0",
    "cdla-permissive-1.0", "cdla-permissive-2.0", "wtfpl", "ecl-2.0", "epl-1.0", "epl-2.0",
    "etalab-2.0", "eupl-1.1", "gfdl", "gpl", "gpl-2.0", "lgpl", "lgpl-2.1", "lgpl-3.0", "isc",
    "lppl-1.3c", "ms-pl", "mpl-2.0", "odc-by", "odbl", "osl-3.0", "postgresql", "ofl-1.1",
    "ncsa", "unlicense", "zlib", "pddl", "lgpl-lr", "deepfloyd-if-license",
    "bigscience-bloom-rail-1.0", "bigcode-openrail-m",
)
# fmt: on
# The most used model languages first (assumption from the Hub's language filter), then every
# other ISO 639-1 code langcodes knows, in code order.
# fmt: off
_TOP_LANGUAGES = (
    "en", "zh", "fr", "es", "de", "ru", "ja", "ko", "ar", "pt",
    "it", "hi", "vi", "tr", "nl", "pl", "id", "fa", "sv", "uk",
)
# fmt: on


@dataclass(slots=True, eq=False)
class SyntheticRepo(Repo):
    """A synthetic model: its record is derived from (seed, index) when the object is made."""

    hub: SyntheticHub | None = None
    index: int = 0

    def readme_text(self) -> str | None:
        card = self.hub.card(self.index)
        return None if card is None else card + self.readme_suffix

    def change(self, when: str) -> None:
        """As Repo.change; the hub keeps the changed model (others are derived afresh)."""
        self.hub.kept[self.index] = self
        self.fields["sha"] = _sha1(f"{self.get('sha')}:{when}")
        self.fields["lastModified"] = when
        self.readme_suffix += f"\n<!-- updated on the replica hub at {when} -->\n"


class SyntheticHub(Mapping):
    """`count` synthetic models as a read-only mapping id -> SyntheticRepo, derived lazily."""

    def __init__(self, real: Mapping[str, Repo], datasets: Mapping, arxiv_ids, count: int, seed):
        self.count, self.seed = count, seed
        self.kept: dict[int, SyntheticRepo] = {}  # models changed through /_replica/change
        with_card = [repo for repo in real.values() if repo.readme is not None]
        self.templates = sorted(with_card, key=lambda repo: repo.id)
        recorded = [repo for repo in real.values() if not repo.card_derived]
        # The real bases: recorded models, the most downloaded first (they become the hubs).
        self.real_bases = sorted(recorded, key=lambda r: (-(r.get("downloads") or 0), r.id))
        self.real_datasets = sorted(datasets)
        self.real_papers = sorted(arxiv_ids)
        self.sections = _card_sections(repo.readme for repo in self.templates)
        self._build_graph()
        # Ids, templates and card data are asked again for bases and READMEs: a bounded cache.
        self.model_id = lru_cache(maxsize=2**16)(self.model_id)
        self.template = lru_cache(maxsize=2**16)(self.template)

    # -- the lineage graph and the times: compact arrays, built once ----------------------------

    def _build_graph(self) -> None:
        rng = random.Random(f"graph:{self.seed}")
        n = self.count
        self.parent = array("i", bytes(4 * n))  # -1: none; >= 0: synthetic; <= -2: real base
        self.relation = array("b", bytes(n))  # 0: none, else 1 + index in RELATIONS
        self.extra_parents: dict[int, tuple[int, ...]] = {}  # merges' other parents
        targets = array("i")  # preferential attachment: each entry is one unit of weight
        for rank in range(len(self.real_bases)):
            targets.extend([-2 - rank] * math.ceil(REAL_HUB_WEIGHT / (rank + 1) ** 1.5))
        cumulative = list(_accumulate(RELATION_SHARES.values()))
        for i in range(n):
            if rng.random() < ROOT_SHARE:
                self.parent[i] = -1
                targets.append(i)
                continue
            pick = rng.random()
            relation = next(k for k, edge in enumerate(cumulative) if pick < edge)
            base = targets[int(rng.random() * len(targets))]
            self.parent[i], self.relation[i] = base, relation + 1
            targets.append(base)  # the base gains weight: the rich get richer
            if RELATIONS[relation] == "merge":
                extra = {targets[int(rng.random() * len(targets))] for _ in range(3)} - {base}
                count = MERGE_EXTRA_PARENTS[int(rng.random() * len(MERGE_EXTRA_PARENTS))]
                self.extra_parents[i] = tuple(sorted(extra))[:count] or (-1,)
            # Quantizations and adapters are leaves on the Hub (Horwitz et al. 2025): only
            # finetunes and merges become bases in turn, which makes the deep chains.
            if RELATIONS[relation] in ("finetune", "merge"):
                targets.append(i)
        self.extra_parents = {i: p for i, p in self.extra_parents.items() if p != (-1,)}
        # Arrival times grow exponentially; the last change falls between creation and END.
        position = (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)
        span = END - START
        created = START + span * np.log1p((GROWTH - 1) * position) / math.log(GROWTH)
        ages = np.random.default_rng(self.seed).random(n) ** 3
        self.created = created.astype(np.int64)
        self.modified = (created + (END - created) * ages).astype(np.int64)

    # -- the mapping ----------------------------------------------------------------------------

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[str]:
        return (self.model_id(i) for i in range(self.count))

    def __contains__(self, model_id) -> bool:
        return self.index_of(model_id) is not None

    def __getitem__(self, model_id: str) -> SyntheticRepo:
        index = self.index_of(model_id)
        if index is None:
            raise KeyError(model_id)
        return self.repo(index)

    def index_of(self, model_id) -> int | None:
        if not isinstance(model_id, str) or not model_id.startswith(AUTHOR_PREFIX):
            return None
        tail = model_id.rsplit("-", 1)[-1]
        if not tail.isdigit() or int(tail) >= self.count:
            return None
        index = int(tail)
        return index if self.model_id(index) == model_id else None

    def repo(self, i: int) -> SyntheticRepo:
        if (kept := self.kept.get(i)) is not None:
            return kept
        return SyntheticRepo(self.model_id(i), self.record(i), None, hub=self, index=i)

    def sort_keys(self, sort: str) -> np.ndarray:
        """The listing sort key of every model (changed models included), as numbers."""
        if sort in ("lastModified", "createdAt"):
            keys = (self.modified if sort == "lastModified" else self.created).astype(np.float64)
        elif sort in ("downloads", "likes"):
            column = 0 if sort == "downloads" else 1
            keys = np.array([self.counts(i)[column] for i in range(self.count)], dtype=np.float64)
        else:  # trendingScore: nobody trends on the replica
            keys = np.zeros(self.count)
        for i, repo in self.kept.items():
            keys[i] = _sort_key(repo.get(sort))
        return keys

    # -- one model, derived from (seed, i) ------------------------------------------------------

    def _rng(self, i: int, stream: str) -> random.Random:
        """The generator of one aspect of model i: independent of the other aspects and models.

        Seeded with one integer (mixed from seed, index and aspect), as a string seed costs a
        SHA-512 per call."""
        mixed = (self.seed * 0x9E3779B97F4A7C15 + i) * 64 + _STREAMS.index(stream)
        return random.Random(mixed & 0xFFFFFFFFFFFFFFFF)

    def template(self, i: int) -> Repo:
        parent = self.parent[i]
        if parent <= -2 and (real := self.real_bases[-2 - parent]).readme is not None:
            return real  # a derivative of a real base looks like its base's card
        return self.templates[int(self._rng(i, "template").random() * len(self.templates))]

    def model_id(self, i: int) -> str:
        rng = self._rng(i, "author")
        author = _zipf(rng, max(10, int(self.count * AUTHORS_PER_MODEL)), AUTHOR_ZIPF)
        stem = _stem(self.template(i).id.rsplit("/", 1)[-1])
        return f"{AUTHOR_PREFIX}{author}/{stem}{_SUFFIX[self.relation_of(i)]}-{i}"

    def relation_of(self, i: int) -> str:
        return RELATIONS[self.relation[i] - 1] if self.relation[i] else ""

    def bases(self, i: int) -> list[str]:
        parents = [self.parent[i], *self.extra_parents.get(i, ())]
        return [self._id_of(p) for p in parents if p != -1]

    def _id_of(self, node: int) -> str:
        return self.real_bases[-2 - node].id if node <= -2 else self.model_id(node)

    def depth(self, i: int) -> int:
        """Steps from model i up its first parents to a root (a real base counts one step)."""
        steps, node = 0, i
        while node >= 0 and self.parent[node] != -1:
            steps, node = steps + 1, self.parent[node]
        return steps

    def card_data(self, i: int) -> dict:
        rng = self._rng(i, "entities")
        data: dict = {}
        if rng.random() < LICENSE_SHARE:
            data["license"] = LICENSES[_zipf(rng, len(LICENSES), LICENSE_ZIPF) - 1]
            if data["license"] == "other":
                data["license_name"] = f"replica-scale-license-{_zipf(rng, 50, 1.2)}"
        if rng.random() < LANGUAGE_SHARE:
            many = rng.random() < MULTILINGUAL_SHARE
            codes = languages()
            picks = [_zipf(rng, len(codes), LANGUAGE_ZIPF) for _ in range(8 if many else 1)]
            data["language"] = [codes[k - 1] for k in dict.fromkeys(picks)]
        if rng.random() < DATASET_SHARE:
            size = max(20, int(self.count * DATASETS_PER_MODEL))
            picks = [_zipf(rng, size, DATASET_ZIPF) for _ in range(1 + int(rng.random() ** 4 * 4))]
            data["datasets"] = [self.dataset_id(k - 1) for k in dict.fromkeys(picks)]
        template = self.template(i).record
        if isinstance(template.get("pipeline_tag"), str):
            data["pipeline_tag"] = template["pipeline_tag"]
        if isinstance(template.get("library_name"), str):
            data["library_name"] = template["library_name"]
        if bases := self.bases(i):
            data["base_model"] = bases[0] if len(bases) == 1 else bases
            if self.relation_of(i) != "finetune":  # as authors write it; finetune is the default
                data["base_model_relation"] = self.relation_of(i)
        return data

    def papers(self, i: int) -> list[str]:
        rng = self._rng(i, "papers")
        if rng.random() >= PAPER_SHARE:
            return []
        size = max(10, int(self.count * PAPERS_PER_MODEL))
        picks = {_zipf(rng, size, PAPER_ZIPF) - 1 for _ in range(1 + int(rng.random() ** 3 * 3))}
        return [self.paper_id(k) for k in sorted(picks)]

    def dataset_id(self, rank: int) -> str:
        if rank < len(self.real_datasets):
            return self.real_datasets[rank]
        return f"{DATA_AUTHOR}/dataset-{rank}"

    def paper_id(self, rank: int) -> str:
        if rank < len(self.real_papers):
            return self.real_papers[rank]
        # YYMM.9NNNN: arXiv numbers no month's submissions that high (about 25 000 a month).
        month = rank % 120
        return f"{16 + month // 12:02d}{1 + month % 12:02d}.{90000 + rank // 120 % 10000:05d}"

    def card_length(self, i: int) -> int | None:
        """The target length of the card in characters; None: the model has no README."""
        rng = self._rng(i, "card")
        if rng.random() < CARDLESS_SHARE:
            return None
        if rng.random() < CARD_TAIL_SHARE:
            return min(CARD_MAX, int(CARD_TAIL_MIN * (1 - rng.random()) ** (-1 / CARD_TAIL_ALPHA)))
        return max(200, int(rng.lognormvariate(math.log(CARD_MEDIAN), CARD_SIGMA)))

    def counts(self, i: int) -> tuple[int, int]:
        """Downloads and likes: Pareto, as most models are rarely downloaded or liked."""
        rng = self._rng(i, "counts")
        return int(rng.paretovariate(0.6)) - 1, int(rng.paretovariate(1.2)) - 1

    def gated(self, i: int):
        rng = self._rng(i, "gated")
        return ("auto" if rng.random() < 0.5 else "manual") if rng.random() < GATED_SHARE else False

    def record(self, i: int) -> dict:
        model_id, template = self.model_id(i), self.template(i)
        card_data = self.card_data(i)
        downloads, likes = self.counts(i)
        kept_tags = [t for t in template.record.get("tags", []) if _template_tag(t)]
        tags = [*kept_tags, *card_data.get("language", ())]
        tags += [f"license:{card_data['license']}"] if "license" in card_data else []
        tags += [f"dataset:{name}" for name in card_data.get("datasets", ())]
        tags += [f"arxiv:{paper}" for paper in self.papers(i)]
        relation = self.relation_of(i)
        for base in self.bases(i):
            tags += [f"base_model:{base}", f"base_model:{relation}:{base}"]
        has_card = self.card_length(i) is not None
        siblings = template.record.get("siblings", [])
        siblings = [s for s in siblings if s.get("rfilename") != "README.md"]
        record = {
            **template.record,
            "_id": _sha1(model_id)[:24],
            "id": model_id,
            "modelId": model_id,
            "author": model_id.split("/")[0],
            "sha": _sha1(f"{self.seed}:{model_id}"),
            "lastModified": iso_timestamp(int(self.modified[i])),
            "createdAt": iso_timestamp(int(self.created[i])),
            "private": False,
            "disabled": False,
            "gated": self.gated(i),
            "downloads": downloads,
            "likes": likes,
            "tags": list(dict.fromkeys([*tags, "region:us"])),
            "siblings": ([{"rfilename": "README.md"}] if has_card else []) + siblings,
        }
        record.pop("cardData", None)
        if has_card:  # the Hub derives cardData from the README's front matter
            record["cardData"] = card_data
        return record

    def card(self, i: int, *, older: bool = False) -> str | None:
        """The card: front matter of the cardData, then real-card sections up to its length.

        `older`: the card of an earlier commit (shorter by its last sections), for stale dumps.
        """
        length = self.card_length(i)
        if length is None:
            return None
        front = _front_matter(self.card_data(i))
        name = self.model_id(i).split("/", 1)[1]
        parts = [f"---\n{front}---\n\n# {name}\n"]
        size = len(parts[0])
        rng = self._rng(i, "sections")
        while size < length:
            section = self.sections[int(rng.random() * len(self.sections))]
            parts.append(section)
            size += len(section)
        text = "".join(parts)
        cut = text.rfind("\n", len(parts[0]), length)
        text = text[: cut + 1] if cut > 0 else text[:length]
        return text[: len(parts[0]) + (len(text) - len(parts[0])) * 2 // 3] if older else text

    # -- synthetic datasets ---------------------------------------------------------------------

    @cached_property
    def dataset_count(self) -> int:
        return max(20, int(self.count * DATASETS_PER_MODEL))

    def dataset_index(self, dataset_id: str) -> int | None:
        prefix = f"{DATA_AUTHOR}/dataset-"
        if not isinstance(dataset_id, str) or not dataset_id.startswith(prefix):
            return None
        tail = dataset_id[len(prefix) :]
        if not tail.isdigit() or str(int(tail)) != tail:
            return None
        rank = int(tail)
        return rank if len(self.real_datasets) <= rank < self.dataset_count else None

    def dataset_record(self, rank: int) -> dict:
        dataset_id = self.dataset_id(rank)
        rng = self._rng(rank, "dataset")
        created = START + int(rng.random() * (END - START))
        modified = created + int(rng.random() ** 3 * (END - created))
        license_ = LICENSES[_zipf(rng, len(LICENSES), LICENSE_ZIPF) - 1]
        codes = languages()
        language = codes[_zipf(rng, len(codes), LANGUAGE_ZIPF) - 1]
        return {
            "_id": _sha1(f"datasets/{dataset_id}")[:24],
            "id": dataset_id,
            "author": DATA_AUTHOR,
            "sha": _sha1(f"{self.seed}:datasets/{dataset_id}"),
            "lastModified": iso_timestamp(modified),
            "createdAt": iso_timestamp(created),
            "private": False,
            "disabled": False,
            "gated": False,
            "downloads": int(rng.paretovariate(0.6)) - 1,
            "likes": int(rng.paretovariate(1.2)) - 1,
            "tags": [f"license:{license_}", f"language:{language}", "region:us"],
            "cardData": {"license": license_, "language": [language]},
            "siblings": [],
        }


class SyntheticDatasets(Mapping):
    """The synthetic datasets models name, as a lazy mapping id -> Repo (no README)."""

    def __init__(self, hub: SyntheticHub):
        self.hub = hub
        self._keys: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return self.hub.dataset_count - len(self.hub.real_datasets)

    def __iter__(self) -> Iterator[str]:
        first = len(self.hub.real_datasets)
        return (self.hub.dataset_id(rank) for rank in range(first, self.hub.dataset_count))

    def __getitem__(self, dataset_id: str) -> Repo:
        rank = self.hub.dataset_index(dataset_id)
        if rank is None:
            raise KeyError(dataset_id)
        return Repo(dataset_id, self.hub.dataset_record(rank), None)

    def __contains__(self, dataset_id) -> bool:
        return self.hub.dataset_index(dataset_id) is not None

    def repo(self, k: int) -> Repo:
        rank = len(self.hub.real_datasets) + k
        return Repo(self.hub.dataset_id(rank), self.hub.dataset_record(rank), None)

    def sort_keys(self, sort: str) -> np.ndarray:
        """Kept per sort key: synthetic datasets never change, and making them costs seconds."""
        if sort not in self._keys:
            first = len(self.hub.real_datasets)
            ranks = range(first, self.hub.dataset_count)
            records = (self.hub.dataset_record(rank) for rank in ranks)
            keys = [_sort_key(record.get(sort, 0)) for record in records]
            self._keys[sort] = np.array(keys, dtype=np.float64)
        return self._keys[sort]


class Chained(Mapping):
    """Real repos (a dict, changes allowed) first, then a lazy synthetic mapping."""

    def __init__(self, real: dict, synthetic: Mapping):
        self.real, self.synthetic = real, synthetic

    def __len__(self) -> int:
        return len(self.real) + len(self.synthetic)

    def __iter__(self) -> Iterator[str]:
        yield from self.real
        yield from self.synthetic

    def __getitem__(self, key: str):
        repo = self.real.get(key)
        return repo if repo is not None else self.synthetic[key]

    def __contains__(self, key) -> bool:
        return key in self.real or key in self.synthetic

    def id_at(self, position: int) -> str:
        real = len(self.real)
        return (
            self.synthetic.model_id(position - real)
            if position >= real
            else list(self.real)[position]
        )

    def listing(self, sort: str | None, descending: bool) -> Listing:
        """All repos in the listing's order, without making a record per repo."""
        real = list(self.real.values())
        if sort is None:
            return Listing(real, self.synthetic, np.arange(len(self)))
        keys = np.concatenate(
            [[_sort_key(repo.get(sort)) for repo in real], self.synthetic.sort_keys(sort)]
        )
        order = np.argsort(-keys if descending else keys, kind="stable")
        return Listing(real, self.synthetic, order)


class Listing(Sequence):
    """A listing's repos by position: real ones, then synthetic ones made when a page asks."""

    def __init__(self, real: list[Repo], synthetic, order: np.ndarray):
        self.real, self.synthetic, self.order = real, synthetic, order

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, item):
        if isinstance(item, slice):
            return [self._repo(int(code)) for code in self.order[item]]
        return self._repo(int(self.order[item]))

    def _repo(self, code: int) -> Repo:
        real = len(self.real)
        return self.real[code] if code < real else self.synthetic.repo(code - real)


def _sort_key(value) -> float:
    """A listing sort value as a number: ISO dates as seconds; missing sorts lowest."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).timestamp()
        except ValueError:
            return -math.inf
    return float(value) if isinstance(value, int | float) else -math.inf


# -- helpers ------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def languages() -> tuple[str, ...]:
    """Computed on first use, by a scaled replica only: 0.15 s that an unscaled one never pays."""
    import langcodes  # the ISO 639-1 codes langcodes knows (its data, not a list typed here)

    letters = "abcdefghijklmnopqrstuvwxyz"
    codes = [a + b for a in letters for b in letters]
    known = [code for code in codes if langcodes.Language.get(code).is_valid()]
    known = [code for code in known if langcodes.Language.get(code).language == code]
    return tuple(dict.fromkeys([*_TOP_LANGUAGES, *known]))


def _front_matter(data: dict) -> str:
    """Block-style YAML of flat card data. Written by hand because pyyaml's emitter costs more
    than the rest of a synthetic card; JSON strings are valid YAML double-quoted scalars."""
    lines = []
    for key, value in data.items():
        if isinstance(value, list):
            lines += [f"{key}:", *(f"- {json.dumps(item, ensure_ascii=False)}" for item in value)]
        else:
            lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def _zipf(rng: random.Random, size: int, exponent: float) -> int:
    """A rank in 1..size drawn with P(k) ~ k^-exponent (inverse of the continuous CDF)."""
    u = rng.random()
    if abs(exponent - 1) < 1e-9:
        rank = math.exp(u * math.log(size + 1))
    else:
        top = (size + 1) ** (1 - exponent)
        rank = (1 + u * (top - 1)) ** (1 / (1 - exponent))
    return min(size, max(1, int(rank)))


def _accumulate(values) -> Iterator[float]:
    total = 0.0
    for value in values:
        total += value
        yield total
    yield math.inf  # rounding never falls off the end


_STREAMS = ("template", "author", "entities", "papers", "card", "gated", "counts", "sections")
_STREAMS += ("dataset",)
_NOT_ID = re.compile(r"[^A-Za-z0-9_.-]+")


def _stem(name: str) -> str:
    stem = re.sub(r"[-.]{2,}", "-", _NOT_ID.sub("-", name))[:60]
    return stem.strip("-.") or "model"


def _template_tag(tag) -> bool:
    """Template tags a synthetic model keeps: not its entities, base models or region."""
    prefixes = ("base_model:", "license:", "dataset:", "arxiv:", "region:", "doi:")
    return isinstance(tag, str) and not tag.startswith(prefixes) and len(tag) > 2


def _card_sections(cards) -> list[str]:
    """The `## ` sections of real cards (front matter dropped), to assemble synthetic cards."""
    sections = []
    for text in cards:
        body = re.sub(r"\A\s*---.*?^---[ \t]*\r?\n", "", text, count=1, flags=re.S | re.M)
        for part in re.split(r"(?m)^(?=## )", body):
            if part.startswith("## ") and len(part) > 40:
                sections.append(part if part.endswith("\n") else part + "\n")
    return sections or ["## Model description\n\nNo description.\n"]
