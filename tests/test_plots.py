"""The report's pictures: reused from the plot cache only for the numbers they were drawn for,
and the families picture drawn the same from the same edges in any order, in any interpreter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hfharvest import report
from hfharvest.normalize import families
from hfharvest.plot_cache import PlotCache

LICENCES = [("apache-2.0", 40), ("mit", 25), ("(none)", 3)]


@pytest.fixture
def drawings(monkeypatch) -> list[str]:
    """The bar charts drawn (not reused), by path."""
    drawn, draw = [], report._draw_bars
    monkeypatch.setattr(report, "_draw_bars", lambda path, *a: (drawn.append(path), draw(path, *a)))
    return drawn


def _pictures(tmp_path: Path, runs: str) -> list[Path]:
    """A picture's path in each run's folder (Snakemake makes the folders)."""
    for run in runs:
        (tmp_path / run).mkdir()
    return [tmp_path / run / "models_per_licence.png" for run in runs]


def test_a_picture_is_reused_only_for_the_numbers_it_was_drawn_for(tmp_path, drawings):
    cache = PlotCache(tmp_path / "cache")
    first, second, third = _pictures(tmp_path, "abc")
    report.bar_chart(str(first), "Models per licence", LICENCES, cache=cache)
    report.bar_chart(str(second), "Models per licence", LICENCES, cache=cache)
    assert drawings == [str(first)] and second.read_bytes() == first.read_bytes()
    changed = [("apache-2.0", 41), *LICENCES[1:]]
    report.bar_chart(str(third), "Models per licence", changed, cache=cache)
    assert drawings == [str(first), str(third)] and third.read_bytes() != first.read_bytes()
    report.bar_chart(str(tmp_path / "d.png"), "Models per licence", changed)  # no cache: drawn
    assert (tmp_path / "d.png").read_bytes() == third.read_bytes()


def test_a_damaged_picture_is_drawn_again(tmp_path, drawings):
    cache = PlotCache(tmp_path / "cache")
    first, second = _pictures(tmp_path, "ab")
    report.bar_chart(str(first), "Models per licence", LICENCES, cache=cache)
    entry = tmp_path / "cache" / "models_per_licence.png"
    data = bytearray(entry.read_bytes())
    data[-100] ^= 1
    entry.write_bytes(bytes(data))
    report.bar_chart(str(second), "Models per licence", LICENCES, cache=cache)
    assert drawings == [str(first), str(second)] and second.read_bytes() == first.read_bytes()


def _edges(path: Path, rows: list[tuple[str, str, str]]) -> str:
    child, parent, relation = (list(column) for column in zip(*rows, strict=True))
    pq.write_table(pa.table({"child": child, "parent": parent, "relation": relation}), path)
    return str(path)


def _family_rows() -> list[tuple[str, str, str]]:
    """A hub with more fine-tunes than a panel draws, each quantized, beside a small family."""
    hub, lone = "meta-llama/Llama-3.1-8B", "google-bert/bert-base-uncased"
    children = [f"org/ft-{i:03d}" for i in range(families.MAX_DRAWN + 20)]
    rows = [(c, hub, "finetune") for c in children] + [(f"{c}-GGUF", c, "quantized")
                                                       for c in children]  # fmt: skip
    return [*rows, (f"{lone}-ft", lone, "finetune")]


def test_the_families_picture_is_the_same_for_any_edge_order_and_hash_seed(tmp_path):
    rows = _family_rows()
    given = _edges(tmp_path / "given.parquet", rows)
    reordered = _edges(tmp_path / "reordered.parquet", rows[1::2] + rows[::-2])
    pictures = []
    for edges, seed in ((given, "1"), (reordered, "2"), (given, "3")):
        out = tmp_path / f"families-{len(pictures)}.png"
        code = f"from hfharvest.normalize import families; families.plot_families({edges!r}, {str(out)!r})"  # noqa: E501
        env = {"PYTHONHASHSEED": seed, "PYTHONPATH": str(Path(families.__file__).parents[2])}
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
        pictures.append(out.read_bytes())
    assert pictures[0].startswith(b"\x89PNG") and pictures[1:] == pictures[:1] * 2


def test_the_families_picture_is_reused_for_the_same_edges_in_another_order(tmp_path, monkeypatch):
    cache = PlotCache(tmp_path / "cache")
    rows = _family_rows()
    (tmp_path / "a").mkdir(), (tmp_path / "b").mkdir()
    first = tmp_path / "a" / "lineage_families.png"
    families.plot_families(_edges(tmp_path / "given.parquet", rows), str(first), cache=cache)
    monkeypatch.setattr(families, "_draw", lambda *_: pytest.fail("drawn again"))
    second = tmp_path / "b" / "lineage_families.png"
    families.plot_families(_edges(tmp_path / "r.parquet", rows[::-1]), str(second), cache=cache)
    assert second.read_bytes() == first.read_bytes()
    rows[-1] = (rows[-1][0], rows[-1][1], "adapter")  # another relation: another picture
    with pytest.raises(pytest.fail.Exception, match="drawn again"):
        families.plot_families(_edges(tmp_path / "c.parquet", rows), str(second), cache=cache)
