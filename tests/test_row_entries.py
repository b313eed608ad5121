"""The identify cache's stored form of a record's rows (hfharvest/stages/row_entries.py)."""

import json
import sqlite3

import pytest

from hfharvest.runconfig import endpoint_key
from hfharvest.stages import identify as identify_stage
from hfharvest.stages.row_entries import rows_entry, rows_text

ROWS = {"datasets": ['["glue"]', '{"glue": ["metadata"]}'], "licenses": ['["mit"]'],
        "tasks": ["[]"]}  # fmt: skip


def test_rows_read_back_as_they_were_put():
    assert rows_entry(rows_text(ROWS)) == (ROWS, False)


@pytest.mark.parametrize("at", [0, 3, 9, 20, -1])
def test_a_stored_entry_with_any_byte_changed_is_read_as_none(at):
    stored = bytearray(rows_text(ROWS))
    stored[at] ^= 0x01
    assert rows_entry(bytes(stored)) == ({}, False)


@pytest.mark.parametrize("rows", [
    {"licenses": ['["mit",\t"gpl"]']},  # JSON, but its tab would split it in two when read
    {"licenses": ['["mit",\n"gpl"]']},
    {"licenses": ['["mit"']},
    {"licenses": ['"mit"']},
    {"licenses": [7]},
    {"licenses": '["mit"]'},
    {"lic\tenses": ['["mit"]']},
    {"licenses,tasks:1": ['["mit"]']},
    {"licenses": []},
])  # fmt: skip
def test_rows_that_would_not_read_back_as_sound_texts_are_not_stored(rows):
    assert rows_text(rows) is None


def _stored(cache_root, digest) -> object:
    path = cache_root / endpoint_key("x")[0] / "rows.sqlite"
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT result FROM results WHERE digest = ?", (digest,)).fetchone()
    return found and found[0]


def test_an_earlier_releases_entry_is_a_hit_and_is_stored_again_in_the_new_form(tmp_path):
    """Entries cached as JSON by an earlier release stay hits (the digest is the same), their
    texts checked as before; a sound one is kept in the new form from then on, a damaged one
    read as none."""
    cache = identify_stage.ResultCache(tmp_path, "x", identify_stage.ROWS)
    cache.close()
    damaged = {"licenses": ['["mit"'], "tasks": ["[]"]}
    with sqlite3.connect(tmp_path / endpoint_key("x")[0] / "rows.sqlite") as db:
        db.executemany("INSERT INTO results VALUES (?, ?)",
                       [("old", json.dumps(ROWS)), ("damaged", json.dumps(damaged))])  # fmt: skip
    reader = identify_stage.ResultCache(tmp_path, "x", identify_stage.ROWS)
    assert reader.get("old") == ROWS
    assert reader.get("damaged") == {}
    reader.close()
    assert _stored(tmp_path, "old") == rows_text(ROWS)
    assert _stored(tmp_path, "damaged") == json.dumps(damaged)
