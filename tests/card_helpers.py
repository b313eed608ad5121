"""Records as the pipeline writes them name their README by digest (`card_sha256`); tests that
compare texts read them back through the card store, as every consumer does."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from hfharvest.cache import CardCache
from hfharvest.cards import CardStore, store_root, with_text

README_MAX_BYTES = 5 * 1024 * 1024


def card_store(data_root: str | Path) -> CardStore:
    """The card store of a data root (`<data_root>/store/cards`)."""
    return CardStore(store_root(data_root), README_MAX_BYTES)


def card_cache(root: str | Path, endpoint: str, data_root: str | Path | None = None) -> CardCache:
    """A README cache at `root` whose texts go to `data_root`'s store (`root`'s parent's)."""
    return CardCache(root, endpoint, card_store(data_root or Path(root).parent))


def inline(records: Iterable[dict], store: CardStore) -> list[dict]:
    """The records with their README text in `card`, read (and checked) from the store."""
    return [{"card": None, **with_text(record, store)[0]} for record in records]
