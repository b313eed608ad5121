"""The delta stage on listing files, without a workflow: streamed through on-disk maps, it must
still say exactly which models were added, updated and gone, in the documented order."""

import gzip
import json

from hfharvest.jsonio import artifact_writer
from hfharvest.stages import delta
from hfharvest.stages.delta import mark_last_run, shas_path, write_delta

ENDPOINT = "http://127.0.0.1:1"


def listing(path, models):
    with artifact_writer(path, "list_latest_models") as out:
        for model_id, sha in models:
            out.add_model({"modelId": model_id, "sha": sha})
    return str(path)


def test_added_updated_and_gone_between_two_listings(tmp_path):
    pointer = tmp_path / ".last_run" / "x.json"
    day1 = listing(
        tmp_path / "day1.json", [("a/x", "1"), ("b/y", "2"), ("c/z", "3"), ("d/w", None)]
    )
    mark_last_run(pointer, "day1", day1, ENDPOINT)
    day2 = listing(
        tmp_path / "day2.json", [("e/new", "9"), ("b/y", "2b"), ("a/x", "1"), ("d/w", None)]
    )

    counts = write_delta(str(tmp_path / "delta.json"), day2, pointer, "day2", ENDPOINT)

    delta = json.loads((tmp_path / "delta.json").read_text())
    assert delta["previous_run"]["run_id"] == "day1"
    assert delta["added"] == [{"model_id": "e/new", "sha": "9"}]
    assert delta["updated"] == [{"model_id": "b/y", "old_sha": "2", "new_sha": "2b"}]
    assert delta["gone"] == [{"model_id": "c/z", "sha": "3"}]
    expected = {"listed": 4, "previous_listed": 4, "added": 1, "updated": 1, "gone": 1}
    assert counts == delta["counts"] == {**expected, "unchanged": 2}


def test_a_first_run_lists_every_model_as_added_in_listing_order(tmp_path):
    day1 = listing(tmp_path / "day1.json", [("z/last", "1"), ("a/first", "2")])
    counts = write_delta(str(tmp_path / "d.json"), day1, tmp_path / "none.json", "day1", ENDPOINT)
    delta = json.loads((tmp_path / "d.json").read_text())
    assert delta["previous_run"] == {
        "run_id": None,
        "note": "no previous successful run on this data root and endpoint",
    }
    assert [a["model_id"] for a in delta["added"]] == ["z/last", "a/first"]
    assert counts["added"] == 2 and delta["updated"] == delta["gone"] == []


def test_an_unreadable_previous_listing_makes_every_model_added_and_says_why(tmp_path):
    pointer = tmp_path / "p.json"
    broken = tmp_path / "day1.json"
    broken.write_text('{"stage": "x", "models": [{"modelId": ')
    mark_last_run(pointer, "day1", str(broken), ENDPOINT)
    day2 = listing(tmp_path / "day2.json", [("a/x", "1")])
    write_delta(str(tmp_path / "d.json"), day2, pointer, "day2", ENDPOINT)
    delta = json.loads((tmp_path / "d.json").read_text())
    assert delta["previous_run"]["run_id"] is None
    assert "unreadable" in delta["previous_run"]["note"]
    assert delta["added"] == [{"model_id": "a/x", "sha": "1"}]


def test_a_compressed_listing_compares_with_a_plain_one_of_an_earlier_version(tmp_path):
    """Listings are now kept as `.json.gz`; a pointer written before names a plain `.json` one,
    and the delta between the two is the same as between two plain listings."""
    pointer = tmp_path / "p.json"
    day1 = listing(tmp_path / "day1.json", [("a/x", "1"), ("b/y", "2"), ("c/z", "3")])
    mark_last_run(pointer, "day1", day1, ENDPOINT)
    day2 = listing(tmp_path / "day2.json.gz", [("d/new", "4"), ("b/y", "2b"), ("a/x", "1")])
    assert (tmp_path / "day2.json.gz").read_bytes()[:2] == b"\x1f\x8b"  # gzip's magic

    counts = write_delta(str(tmp_path / "delta.json"), day2, pointer, "day2", ENDPOINT)
    mark_last_run(pointer, "day2", day2, ENDPOINT)
    day3 = listing(tmp_path / "day3.json.gz", [("b/y", "2c"), ("d/new", "4")])
    write_delta(str(tmp_path / "delta3.json"), day3, pointer, "day3", ENDPOINT)

    delta = json.loads((tmp_path / "delta.json").read_text())
    assert delta["added"] == [{"model_id": "d/new", "sha": "4"}]
    assert delta["updated"] == [{"model_id": "b/y", "old_sha": "2", "new_sha": "2b"}]
    assert delta["gone"] == [{"model_id": "c/z", "sha": "3"}]
    assert counts["unchanged"] == 1
    delta3 = json.loads((tmp_path / "delta3.json").read_text())
    assert delta3["previous_run"]["run_id"] == "day2"
    assert delta3["updated"] == [{"model_id": "b/y", "old_sha": "2b", "new_sha": "2c"}]
    assert delta3["gone"] == [{"model_id": "a/x", "sha": "1"}] and delta3["added"] == []


def test_odd_rows_compare_as_a_map_would(tmp_path):
    """An id listed twice before counts once, with its last sha; a sha that is no string (a
    damaged listing) still compares by value and comes out as it was."""
    pointer = tmp_path / "p.json"
    day1 = listing(tmp_path / "day1.json", [("a/x", "1"), ("a/x", "2"), ("b/y", [1, 2]),
                                            ("c/z", {"k": 1})])  # fmt: skip
    mark_last_run(pointer, "day1", day1, ENDPOINT)
    day2 = listing(tmp_path / "day2.json", [("a/x", "2"), ("b/y", [1, 3]), ("e/f", None)])
    counts = write_delta(str(tmp_path / "d.json"), day2, pointer, "day2", ENDPOINT)
    delta = json.loads((tmp_path / "d.json").read_text())
    assert delta["updated"] == [{"model_id": "b/y", "old_sha": [1, 2], "new_sha": [1, 3]}]
    assert delta["added"] == [{"model_id": "e/f", "sha": None}]
    assert delta["gone"] == [{"model_id": "c/z", "sha": {"k": 1}}]
    assert counts["previous_listed"] == 3 and counts["unchanged"] == 1


def test_the_next_delta_reads_the_rows_kept_beside_the_listing_not_its_records(
    tmp_path, monkeypatch
):
    """Each delta keeps its listing's `(model id, sha)` rows beside it; the next run's delta
    reads those (the previous listing's records are not parsed again) and says the same."""
    pointer = tmp_path / "p.json"
    day1 = listing(tmp_path / "day1.json.gz", [("a/x", "1"), ("b/y", [1, 2]), ("c/z", None)])
    write_delta(str(tmp_path / "d1.json"), day1, pointer, "day1", ENDPOINT)
    with gzip.open(shas_path(day1), "rt") as handle:
        assert json.load(handle)["rows"] == [["a/x", "1"], ["b/y", [1, 2]], ["c/z", None]]
    mark_last_run(pointer, "day1", day1, ENDPOINT)
    day2 = listing(tmp_path / "day2.json.gz", [("b/y", [1, 3]), ("a/x", "1"), ("d/w", "4")])
    parsed = []
    read = delta.listing_shas
    monkeypatch.setattr(delta, "listing_shas", lambda path: parsed.append(path) or read(path))

    write_delta(str(tmp_path / "d2.json"), day2, pointer, "day2", ENDPOINT)

    assert parsed == [day2]
    kept = json.loads((tmp_path / "d2.json").read_text())
    monkeypatch.setattr(delta, "kept_shas", lambda path: None)  # the listing itself instead
    write_delta(str(tmp_path / "d2.json"), day2, pointer, "day2", ENDPOINT)
    assert kept == json.loads((tmp_path / "d2.json").read_text())
    assert kept["updated"] == [{"model_id": "b/y", "old_sha": [1, 2], "new_sha": [1, 3]}]
    assert kept["gone"] == [{"model_id": "c/z", "sha": None}] and kept["counts"]["added"] == 1


def test_kept_rows_that_do_not_match_the_listing_or_do_not_read_are_not_used(tmp_path):
    """The kept rows hold their listing's sha256: a listing written again since, or kept rows
    that are damaged, make the delta read the listing itself."""
    pointer = tmp_path / "p.json"
    day1 = listing(tmp_path / "day1.json", [("a/x", "1")])
    write_delta(str(tmp_path / "d1.json"), day1, pointer, "day1", ENDPOINT)
    listing(tmp_path / "day1.json", [("a/x", "2"), ("b/y", "3")])  # listed again, new rows
    mark_last_run(pointer, "day1", day1, ENDPOINT)
    day2 = listing(tmp_path / "day2.json", [("a/x", "2"), ("b/y", "3")])
    assert write_delta(str(tmp_path / "d2.json"), day2, pointer, "day2", ENDPOINT)["unchanged"] == 2

    kept = shas_path(day1)
    write_delta(str(tmp_path / "d1.json"), day1, pointer, "day0", ENDPOINT)  # rows kept anew
    kept.write_bytes(gzip.compress(gzip.decompress(kept.read_bytes())[:-20]))  # cut short
    assert write_delta(str(tmp_path / "d2.json"), day2, pointer, "day2", ENDPOINT)["unchanged"] == 2
    write_delta(str(tmp_path / "d1.json"), day1, pointer, "day0", ENDPOINT)
    text = gzip.decompress(kept.read_bytes())
    kept.write_bytes(gzip.compress(text.replace(b'"3"]', b'"3", 0]')))  # a row of three
    assert write_delta(str(tmp_path / "d2.json"), day2, pointer, "day2", ENDPOINT)["unchanged"] == 2


def _listed(model_id, author, sha) -> dict:
    """A record with the keys list_latest_models writes, in its order."""
    return {"modelId": model_id, "author": author, "sha": sha, "last_modified": None, "tags": []}


LISTED = [
    _listed("a/x", "a", "0" * 40),
    _listed("b/y", None, None),
    _listed("c/ü", 'say "hi" \\ \u2028', "f" * 64),  # escapes in the author, an id not ASCII
    _listed("d/w", "d", None),
]


def test_a_listings_ids_and_shas_are_read_from_its_lines_as_parsing_them_gives(
    tmp_path, monkeypatch
):
    """Lines as list_latest_models writes them are read from their start, not parsed (the
    records are not read at all); a line of another shape (an escaped id, another key order)
    is parsed, and every line after it: the pairs are the records' either way."""
    path = listing(tmp_path / "l.json", [])
    with artifact_writer(path, "list_latest_models") as out:
        out.add((record, None) for record in LISTED)
    expected = [(r["modelId"], r["sha"]) for r in LISTED]
    with monkeypatch.context() as patched:
        patched.setattr("hfharvest.jsonio._items", lambda path, prefix: 1 / 0)  # no parse
        assert list(delta.listing_shas(path)) == expected
    odd = [LISTED[0], {**LISTED[1], "modelId": 'b/"y'}, {"sha": "1", "modelId": "e/v"}, LISTED[3]]
    with artifact_writer(path, "list_latest_models") as out:
        out.add((record, None) for record in odd)
    assert list(delta.listing_shas(path)) == [(r["modelId"], r["sha"]) for r in odd]
