"""A fetch job's README trail: the next run's job of its shard reads the entries of the models it
lists from it, in about the same order, instead of each entry's file; checked like a file's."""

from __future__ import annotations

import gzip
import json
import os

from card_helpers import card_cache

from hfharvest.cache import TRAILS
from hfharvest.trail import TrailWalk, trail_line

ENDPOINT = "https://huggingface.co"
SHA, NEW_SHA = "a" * 40, "b" * 40
IDS = [f"org/m{i}" for i in range(8)]


def lines(*ids: str) -> list[bytes]:
    return [trail_line(model_id, SHA, f"entry of {model_id}".encode()) for model_id in ids]


def test_the_walk_finds_entries_moved_within_its_window_and_skips_damaged_lines():
    walk = TrailWalk([*lines(*IDS[:3]), b"cut short\n", *lines(*IDS[3:])], window=3)
    assert walk.find("org/new", SHA) is None  # a model the run before did not list
    assert walk.find("org/m1", SHA) == b"entry of org/m1"
    assert walk.find("org/m0", SHA) == b"entry of org/m0"  # read ahead, held in the window
    assert walk.find("org/m2", NEW_SHA) is None  # changed: its old entry is no answer
    assert walk.find("org/m3", SHA) == b"entry of org/m3"  # past the damaged line
    assert walk.find("org/m7", SHA) is None  # further ahead than the window holds
    assert walk.find("org/m4", SHA) == b"entry of org/m4"
    assert walk.find("org/m6", SHA) == b"entry of org/m6"


def test_lines_of_models_asked_already_do_not_fill_the_window():
    """The changed models are listed first; their old entries come later in the trail, beyond
    the window when they were asked: they are dropped when read, not held, so that the window
    still reaches the unchanged models after them."""
    walk = TrailWalk(lines(*IDS), window=2)
    changed = ["org/m2", "org/m5"]
    assert [walk.find(model_id, NEW_SHA) for model_id in changed] == [None, None]
    unchanged = [model_id for model_id in IDS if model_id not in changed]
    found = [walk.find(model_id, SHA) for model_id in unchanged]
    assert found == [f"entry of {model_id}".encode() for model_id in unchanged]


def test_a_walk_remembers_what_it_missed_only_while_lines_may_come(monkeypatch):
    """A cold run has no trail: its 1.5 million misses must not be held (memory flat in N)."""
    walk = TrailWalk([])
    assert [walk.find(model_id, SHA) for model_id in IDS] == [None] * len(IDS)
    assert walk._missed == set()
    monkeypatch.setattr("hfharvest.trail.MISSED_MAX", 2)
    walk = TrailWalk(lines(*IDS), window=1)
    assert [walk.find(f"org/new{i}", SHA) for i in range(4)] == [None] * 4
    assert walk._missed == {"org/new0", "org/new1"}


def fetched(root, removed=()) -> dict[str, str | None]:
    """A job's lookups of IDS in order, its trail followed and left; `removed`: entry files
    deleted first (a hit on those comes from the trail)."""
    cache = card_cache(root, ENDPOINT)
    for model_id in removed:
        os.unlink(cache._path(model_id, SHA))
    cache.follow_trail("1-of-1")
    found = {}
    for model_id in IDS:
        card = cache.get(model_id, SHA, text=False)
        found[model_id] = None if card is None else card.digest
        if card is None:
            cache.put(model_id, SHA, f"# {model_id}", False)
    cache.flush()
    return found


def trail_path(root):
    return card_cache(root, ENDPOINT)._path(IDS[0], SHA).parents[2] / TRAILS / "1-of-1.gz"


def test_a_warm_job_reads_its_entries_from_the_trail_of_the_run_before(tmp_path):
    root = tmp_path / "cache"  # not there yet: the first run makes it
    assert set(fetched(root).values()) == {None}  # cold: every README fetched, trail left
    assert trail_path(root).is_file()
    digests = fetched(root, removed=IDS[2:5])  # warm: hits, those files gone, from the trail
    assert None not in digests.values()
    assert fetched(root, removed=IDS[5:6]) == digests  # each trail carries on what it served


def test_a_trail_line_that_does_not_check_out_is_not_served(tmp_path):
    root = tmp_path / "cache"
    fetched(root)
    digests = fetched(root)
    path = trail_path(root)
    trail = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(trail.replace(b'"truncated": false', b'"truncated": true')))
    assert fetched(root, removed=IDS[:1]) == {**digests, IDS[0]: None}  # checksums differ
    assert fetched(root) == digests  # read from the files, and trailed again


def test_a_trail_is_never_followed_through_a_link_and_a_failed_job_leaves_the_one_before(
    tmp_path,
):
    root = tmp_path / "cache"
    fetched(root)
    digests = fetched(root)
    path = trail_path(root)
    kept = tmp_path / "elsewhere.gz"
    path.rename(kept)
    path.symlink_to(kept)
    assert fetched(root, removed=IDS[:1]) == {**digests, IDS[0]: None}
    assert not path.is_symlink() and kept.is_file()  # replaced by the job's own, not through

    before = path.read_bytes()
    cache = card_cache(root, ENDPOINT)
    cache.follow_trail("1-of-1")
    cache.get(IDS[1], SHA, text=False)
    del cache  # the job failed: never flushed
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["1-of-1.gz"]


def test_entries_an_earlier_release_wrote_are_hits_and_trailed_in_the_signed_form(tmp_path):
    """An entry's file of an earlier release (its checksum last, over the canonical JSON of the
    rest) stays a hit; the trail holds it signed (cache.py), so the next run hashes its bytes
    rather than encoding it again, and serves it from there."""
    root = tmp_path / "cache"
    fetched(root)
    cache = card_cache(root, ENDPOINT)
    for model_id in IDS:
        path = cache._path(model_id, SHA)
        entry = json.loads(path.read_bytes())
        earlier = {key: entry[key] for key in ("model_id", "sha", "sha256", "truncated", "bytes")}
        path.write_text(json.dumps({**earlier, "checksum": entry["checksum"]}))
    trail_path(root).unlink()
    digests = fetched(root)
    assert None not in digests.values()
    trail = gzip.decompress(trail_path(root).read_bytes()).splitlines()
    assert [line.split(b"\t")[2][:14] for line in trail] == [b'{"checksum": "'] * len(IDS)
    assert fetched(root, removed=IDS) == digests
