"""hfharvest.listed: a plain entry read without ModelInfo gives what ModelInfo gives."""

from __future__ import annotations

import copy
import itertools

import pytest
from conftest import all_snapshot_records

from hfharvest import errors
from hfharvest.hub import (
    MODEL_FIELDS,
    SIBLINGS,
    _file_names,
    _read_by_model_info,
    model_info_to_dict,
    readme_listed,
)
from hfharvest.listed import PLAIN_KEYS, ListedModel, plain_model

LISTED_KEYS = ("_id", "id", *MODEL_FIELDS, SIBLINGS)


def _as_listed(record: dict) -> dict:
    """A recorded /api/models/{id} body as a listing entry with our expand fields has it."""
    return {key: record[key] for key in LISTED_KEYS if key in record}


def _read_both(data: dict):
    names = _file_names(data.get(SIBLINGS))
    return plain_model(copy.deepcopy(data), names), _read_by_model_info(copy.deepcopy(data), names)


def _as_recorded(info) -> tuple[dict, list[str], bool | None]:
    problems: list[str] = []
    record = model_info_to_dict(info, problems)
    return record, problems, readme_listed(info)


# Odd values of each field, alone and in pairs: what ModelInfo raises on, what it reshapes
# (a card's tags made unique, None values left out, model-index through EvalResult), and
# what model_info_to_dict drops.
ODD_FIELDS = {
    "lastModified": ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.1Z",
                     "2024-01-01T00:00:00.1234567Z", "2024-02-30T00:00:00Z",
                     "2024-01-01T24:00:00Z", "2024-01-01T00:00:60Z", "0000-01-01T00:00:00Z",
                     "2024-01-01T00:00:00", "", None, 5, False],
    "createdAt": ["1999-12-31T23:59:59.999999Z", "99999-01-01T00:00:00Z", [], None],
    "cardData": [{}, {"license": None}, {"tags": "x"}, {"tags": ["a", "a", "b", 1, 1]},
                 {"tags": 5}, {"tags": {"a": 1}}, {"tags": None, "zz": None},
                 {"zz": 1, "base_model": "a/b", "license": "mit", "model_name": "m"},
                 {"model-index": [{"name": "m", "results": []}]}, {"model-index": "odd"},
                 {"eval_results": []}, {"self": 1}, {"ignore_metadata_errors": True},
                 [], ["x"], "text", 0, None],
    "safetensors": [None, {}, {"parameters": {"F32": 5}, "total": 5}, {"total": 5},
                    {"parameters": ["F32"], "total": 5}, {"parameters": {}, "total": None},
                    "garbage", 0],
    "siblings": [None, [], [{"rfilename": "README.md", "size": 3}], [{"name": "x"}], "README.md"],
    "tags": ["one", None, ["a", 1], {"a": 1}],
    "gated": ["manual", "odd", 1, None],
    "sha": ["a" * 40, "zz", None, 7],
    "downloads": [True, "5", 2**40],
    "private": [False],
    "spaces": [[]],
    "modelId": ["x/y"],
}  # fmt: skip


def _variants():
    records = [_as_listed(record) for record in all_snapshot_records()]
    usual = [record for record in records if "model-index" not in record.get("cardData", {})]
    base = next(record for record in usual if record.get("safetensors"))  # nothing reshaped
    singles = [(key, value) for key, values in ODD_FIELDS.items() for value in values]
    for (key, value), (other, second) in itertools.combinations(singles, 2):
        if key != other:
            yield {**base, key: value, other: second}
    for key, value in singles:
        yield {**base, key: value}
    yield from records


VARIANTS = list(_variants())


def test_the_plain_keys_are_the_fields_we_ask_for():
    assert set(LISTED_KEYS) <= PLAIN_KEYS


def test_a_plain_entry_gives_exactly_the_record_and_problems_model_info_gives():
    """On the recorded models and on every odd field alone and in pairs: an entry read without
    ModelInfo makes the same record, problems and README verdict as ModelInfo does; an entry
    ModelInfo refuses or reshapes in ways not reproduced is never read without it."""
    plain = 0
    for data in VARIANTS:
        fast, slow = _read_both(data)
        if fast is None:
            continue
        plain += 1
        assert isinstance(fast, ListedModel)
        assert not isinstance(slow, errors.HarvestError), data
        assert _as_recorded(fast) == _as_recorded(slow), data
        assert fast.last_modified == slow.last_modified and fast.tags == slow.tags
    assert plain > 700  # of 1 896: the odd values are mostly read by ModelInfo
    recorded = [_as_listed(record) for record in all_snapshot_records()]
    usual = [r for r in recorded if "model-index" not in r.get("cardData", {})]
    assert len(usual) > 25 and all(plain_model(r, None) is not None for r in usual)


@pytest.mark.parametrize(
    "odd",
    [{"cardData": {"model-index": [{"name": "m", "results": []}]}}, {"spaces": []},
     {"lastModified": "2024-01-01T00:00:00"}, {"safetensors": {"total": 5}},
     {"cardData": {"tags": 5}}, {"cardData": "text"}],
)  # fmt: skip
def test_other_shapes_are_left_to_model_info(odd):
    [record] = [_as_listed(r) for r in all_snapshot_records()][:1]
    assert plain_model({**record, **odd}, None) is None
