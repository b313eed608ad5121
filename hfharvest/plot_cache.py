"""The report's pictures, reused when what they draw did not change.

A warm run's plots mostly draw the same numbers as the run before (models per licence, the
largest families): drawing them again, and importing matplotlib to do it, was most of those
jobs' CPU. Each picture is kept in a slot of its own (its file name: a new picture replaces the
old, so the cache does not grow with the runs) with the key it was drawn for, a digest of the
numbers drawn, the drawing code and the libraries that render it. A picture is reused only for
the same key, so it is the one a fresh drawing would give. Entries are checksummed and read
and written only as regular files in real folders under the root (hfharvest/cache.py).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from .cache import EntryStore
from .jsonio import atomic_writer
from .runconfig import code_digest

# The libraries a picture's bytes depend on: the plotting, the layout, the arrays, the PNG codec.
RENDERERS = ("matplotlib", "networkx", "numpy", "pillow")
ENTRY_MAX_BYTES = 64 * 1024 * 1024  # a picture beyond this is damage, never read


@cache
def renderer_versions() -> list:
    found = []
    for name in RENDERERS:
        try:
            found.append(version(name))
        except PackageNotFoundError:
            found.append(None)
    return [*found, sys.version_info[:2]]


def plot_key(code: tuple[str, ...], drawn: object) -> str:
    """A digest of what a picture is made from: `drawn` (JSON: its numbers, labels, title), the
    modules `code` (under hfharvest/) that draw it, and the renderers' versions."""
    material = [code_digest((*code, "plot_cache.py")), renderer_versions(), drawn]
    return hashlib.sha256(json.dumps(material, ensure_ascii=False).encode()).hexdigest()


class PlotCache:
    """Pictures under `<root>/<slot>.png`: a JSON header line (the key, the picture's size and
    checksum), then the PNG."""

    def __init__(self, root: str | Path):
        self._files = EntryStore(root, "plots")
        self._files.max_bytes = ENTRY_MAX_BYTES

    def copy(self, slot: str, key: str, path: str | Path) -> bool:
        """Write the picture kept in `slot` for `key` to `path`; False when there is none."""
        try:
            data = self._files.read_entry([], f"{slot}.png")
        except (OSError, ValueError):
            return False
        if data is None:
            return False
        header, _, picture = data.partition(b"\n")
        try:
            facts = json.loads(header)
            if facts != {"key": key, "size": len(picture),
                         "checksum": hashlib.sha256(picture).hexdigest()}:  # fmt: skip
                return False
        except (ValueError, RecursionError):  # a header that is not ours: drawn again
            return False
        with atomic_writer(path, "wb") as handle:
            handle.write(picture)
        return True

    def keep(self, slot: str, key: str, path: str | Path) -> None:
        picture = Path(path).read_bytes()
        facts = {"key": key, "size": len(picture), "checksum": hashlib.sha256(picture).hexdigest()}
        self._files.store_entry([], f"{slot}.png", json.dumps(facts).encode() + b"\n" + picture)


def reuse_or_draw(cache: PlotCache | None, path: str | Path, key: str,
                  draw: Callable[[], None]) -> None:  # fmt: skip
    """The picture at `path`: copied from `cache` when it holds one for `key`, else drawn by
    `draw` (which writes `path`) and kept."""
    slot = Path(path).stem
    if cache is not None and cache.copy(slot, key, path):
        return
    draw()
    if cache is not None:
        cache.keep(slot, key, path)


def plot_cache(config: dict) -> PlotCache | None:
    """The data root's picture cache (`<data_root>/cache/plots/`), when `normalize.cache` is on."""
    if not config["normalize"]["cache"]:
        return None
    return PlotCache(Path(config["data_root"]) / "cache" / "plots")
