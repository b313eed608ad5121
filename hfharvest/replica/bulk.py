"""The bulk dump the Hub publishes of all model cards, rebuilt from the replica's own records.

The Hub's dataset `librarian-bots/model_cards_with_metadata` holds Parquet shards under `data/`
(`train-0000k-of-0000n.parquet`) with the columns of schema() (its README's `dataset_info`). The
replica serves the same layout through the ordinary dataset routes. A shard is written on first
use (or by prebuild()) into a temporary folder of this replica, in row groups of bounded rows
and bytes.

Like a dump refreshed daily, it lags the live Hub: a seeded share of synthetic models appear with
an older commit (earlier `last_modified`, shorter card), a seeded share of all models is missing,
and models changed through /_replica/change after start keep their original row. Real models are
never given a stale row: their cards are served only as recorded. Models without a README have
no row (the dataset is of model cards).
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import shutil
import tempfile
import threading
import weakref
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

from .snapshot import Repo, _sha1, iso_timestamp
from .synthetic import END, Chained

DUMP_ID = "librarian-bots/model_cards_with_metadata"


@functools.cache
def schema():
    """The dump's columns. pyarrow is imported here, by the replicas that write a shard: the
    others (every workflow run's) start 0.1 s sooner."""
    import pyarrow as pa

    return pa.schema(
        [
            ("modelId", pa.string()),
            ("author", pa.string()),
            ("last_modified", pa.timestamp("us", tz="UTC")),
            ("downloads", pa.int64()),
            ("likes", pa.int64()),
            ("library_name", pa.string()),
            ("tags", pa.list_(pa.string())),
            ("pipeline_tag", pa.string()),
            ("createdAt", pa.timestamp("us", tz="UTC")),
            ("card", pa.string()),
        ]
    )


# The defaults are a dump that lags more than a day's changes, to test the fallback; a bench
# sets its own (--dump-stale-share, --dump-missing-share).
STALE_SHARE = 0.03  # synthetic models whose row is an older commit
MISSING_SHARE = 0.02  # models left out of the dump
ROWS_PER_SHARD = 20_000  # about 6 s to build here: within a client's metadata timeout
ROW_GROUP_ROWS, ROW_GROUP_BYTES = 2_000, 32 * 2**20
_CHUNK = 2**20


class BulkDump:
    """The dump of one replica instance: its files, built lazily, and its dataset record."""

    def __init__(
        self,
        models,
        seed: int = 0,
        rows_per_shard: int = ROWS_PER_SHARD,
        stale_share: float = STALE_SHARE,
        missing_share: float = MISSING_SHARE,
    ):
        self.seed, self.rows_per_shard = seed, max(1, rows_per_shard)
        self.stale_share, self.missing_share = stale_share, missing_share
        real = models.real if isinstance(models, Chained) else models
        self.real: list[Repo] = list(real.values())
        self.synthetic = models.synthetic if isinstance(models, Chained) else None
        total = len(self.real) + (self.synthetic.count if self.synthetic else 0)
        count = max(1, math.ceil(total / self.rows_per_shard))
        self.files = [f"data/train-{k:05d}-of-{count:05d}.parquet" for k in range(count)]
        self.sha = _sha1(f"dump:{seed}:{total}:{self.rows_per_shard}")
        self._total = total
        self._dir: Path | None = None  # made on first use, removed with this object
        self._built: dict[str, tuple[Path, str]] = {}  # file -> (path, sha256)
        self._lock = threading.Lock()

    def record(self) -> dict:
        when = iso_timestamp(END)
        return {
            "_id": _sha1(f"datasets/{DUMP_ID}")[:24],
            "id": DUMP_ID,
            "author": DUMP_ID.split("/")[0],
            "sha": self.sha,
            "lastModified": when,
            "createdAt": when,
            "private": False,
            "disabled": False,
            "gated": False,
            "tags": ["format:parquet", "modality:text", "region:us"],
            "siblings": [{"rfilename": name} for name in self.files],
        }

    def file(self, name: str) -> tuple[Path, str]:
        """The built shard and its sha256 (built on first use; one shard at a time)."""
        with self._lock:
            if name not in self._built:
                if self._dir is None:
                    self._dir = Path(tempfile.mkdtemp(prefix="replica-dump-"))
                    weakref.finalize(self, shutil.rmtree, self._dir, True)
                self._built[name] = self._write(self.files.index(name))
            return self._built[name]

    def prebuild(self) -> threading.Thread:
        """Build every shard in the background, so that no request waits for one."""
        thread = threading.Thread(target=lambda: [self.file(name) for name in self.files])
        thread.daemon = True
        thread.start()
        return thread

    def chunks(self, path: Path) -> Iterator[bytes]:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                yield chunk

    # -- rows -----------------------------------------------------------------------------------

    def row(self, position: int) -> dict | None:
        """The dump's row for the model at `position` (real models first), or None."""
        if position < len(self.real):
            repo = self.real[position]  # as recorded: changes after start are not in the dump
            record, card = repo.record, repo.readme
        else:
            i = position - len(self.real)
            record, card = self.synthetic.record(i), self.synthetic.card(i)
        if card is None:
            return None
        fate = self.fate(record["id"], synthetic=position >= len(self.real))
        if fate == "missing":
            return None
        modified = _datetime(record.get("lastModified"))
        created = _datetime(record.get("createdAt"))
        days = random.Random(f"dump:{self.seed}:{record['id']}:age").randint(1, 90)
        older = max(created, modified - timedelta(days=days)) if created and modified else None
        if fate == "stale" and older is not None and older < modified:  # an earlier commit
            card, modified = self.synthetic.card(position - len(self.real), older=True), older
        return {
            "modelId": record["id"],
            "author": record.get("author"),
            "last_modified": modified,
            "downloads": record.get("downloads"),
            "likes": record.get("likes"),
            "library_name": record.get("library_name"),
            "tags": [tag for tag in record.get("tags", []) if isinstance(tag, str)],
            "pipeline_tag": record.get("pipeline_tag"),
            "createdAt": created,
            "card": card,
        }

    def fate(self, model_id: str, *, synthetic: bool) -> str:
        """'missing', 'stale' or 'current': seeded per model id."""
        draw = random.Random(f"dump:{self.seed}:{model_id}").random()
        if draw < self.missing_share:
            return "missing"
        return "stale" if synthetic and draw < self.missing_share + self.stale_share else "current"

    def _write(self, shard: int) -> tuple[Path, str]:
        path = self._dir / Path(self.files[shard]).name
        partial = path.with_suffix(".partial")
        start = shard * self.rows_per_shard
        stop = min(self._total, start + self.rows_per_shard)
        import pyarrow as pa
        import pyarrow.parquet as pq

        with pq.ParquetWriter(partial, schema(), compression="zstd") as writer:
            rows, size = [], 0
            for position in range(start, stop):
                if (row := self.row(position)) is None:
                    continue
                rows.append(row)
                size += len(row["card"])
                if len(rows) >= ROW_GROUP_ROWS or size >= ROW_GROUP_BYTES:
                    writer.write_table(pa.Table.from_pylist(rows, schema()))
                    rows, size = [], 0
            if rows:
                writer.write_table(pa.Table.from_pylist(rows, schema()))
        partial.replace(path)
        digest = hashlib.sha256()
        for chunk in self.chunks(path):
            digest.update(chunk)
        return path, digest.hexdigest()


def _datetime(value) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
