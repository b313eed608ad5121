"""Plots of a finished run for `snakemake --report`: what was harvested, and what it cost."""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from .jsonio import iter_entries, iter_models, read_json
from .plot_cache import PlotCache, plot_key, reuse_or_draw

TOP = 15  # bars per chart; the rest is summed as "other"
REPORT_CODE = ("report.py",)  # what draws these pictures (their cache key holds its digest)


def pyplot():
    """matplotlib's pyplot, drawing to files only: imported when a picture is drawn, not when
    every picture is reused (the import was a fifth of the report job's CPU)."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def top_counts(values: Iterable[str | None], top: int = TOP) -> list[tuple[str, int]]:
    """Most common values first; missing ones as "(none)", the tail summed as "(other)"."""
    counts = Counter()
    for value in values:
        _count(counts, value)
    return _ranked(counts, top)


def _count(counts: Counter, value: str | None) -> None:
    counts[value if value else "(none)"] += 1


def _ranked(counts: Counter, top: int = TOP) -> list[tuple[str, int]]:
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    head, tail = ranked[:top], ranked[top:]
    return head + ([("(other)", sum(n for _, n in tail))] if tail else [])


def bar_chart(path: str, title: str, counts: list[tuple[str, int]], xlabel: str = "models",
              cache: PlotCache | None = None) -> None:  # fmt: skip
    """Horizontal bars, the first of `counts` on top; reused from `cache` when it holds the
    picture of these bars."""
    key = plot_key(REPORT_CODE, ["bars", title, counts, xlabel])
    reuse_or_draw(cache, path, key, lambda: _draw_bars(path, title, counts, xlabel))


def _draw_bars(path: str, title: str, counts: list[tuple[str, int]], xlabel: str) -> None:
    plt = pyplot()
    labels = [label for label, _ in counts][::-1]
    values = [value for _, value in counts][::-1]
    figure, axes = plt.subplots(figsize=(7, 0.35 * len(counts) + 1.2))
    bars = axes.barh(labels, values, color="#4c72b0")
    axes.bar_label(bars, padding=3)
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.margins(x=0.12)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_models(models_path: str, licenses_path: str, out: dict[str, str],
                cache: PlotCache | None = None) -> None:  # fmt: skip
    """Models per pipeline tag, library and licence (licences as identified, SPDX where known),
    and by lineage depth: the models file read once, counted as it streams past."""
    tags, libraries, depths = Counter(), Counter(), Counter()
    for record in iter_models(models_path):
        _count(tags, record.get("pipeline_tag"))
        _count(libraries, record.get("library_name"))
        depths[(record.get("ancestry") or {}).get("depth", 0)] += 1
    licences = top_counts(lic for _, ids in iter_entries(licenses_path) for lic in ids or [None])
    bar_chart(out["pipeline_tags"], "Models per pipeline tag", _ranked(tags), cache=cache)
    bar_chart(out["libraries"], "Models per library", _ranked(libraries), cache=cache)
    bar_chart(out["licenses"], "Models per licence", licences, cache=cache)
    plot_lineage(depths, out["lineage"], cache)


def plot_lineage(depths: Counter, path: str, cache: PlotCache | None = None) -> None:
    """How deep the base-model lineage goes (`depths`: models per depth); harvested models are
    depth 0."""
    counts = [(f"depth {depth}", depths[depth]) for depth in sorted(depths)]
    bar_chart(path, "Models by base-model lineage depth", counts, cache=cache)


def plot_entities(summary_path: str, path: str, cache: PlotCache | None = None) -> None:
    """Entities per kind, split into enriched and unresolved."""
    enriched = read_json(summary_path)["enriched"]
    names = sorted(enriched)
    done = [enriched[name]["enriched"] for name in names]
    failed = [enriched[name]["unresolved"] for name in names]
    key = plot_key(REPORT_CODE, ["entities", names, done, failed])
    reuse_or_draw(cache, path, key, lambda: _draw_entities(path, names, done, failed))


def _draw_entities(path: str, names: list[str], done: list[int], failed: list[int]) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(7, 0.4 * len(names) + 1.4))
    axes.barh(names, done, color="#55a868", label="enriched")
    axes.barh(names, failed, left=done, color="#c44e52", label="unresolved")
    for row, (ok, bad) in enumerate(zip(done, failed, strict=True)):
        axes.text(ok + bad, row, f" {ok}/{ok + bad}", va="center")
    axes.set_title("Entities per kind: enriched vs unresolved")
    axes.set_xlabel("entities")
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, frameon=False)
    axes.margins(x=0.2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def stage_seconds(benchmark_files: Iterable[str], root: str) -> list[tuple[str, float]]:
    """Wall seconds per job from Snakemake's benchmark files, named by their path under `root`
    (`<data_root>/benchmarks/<run>/`): `merge_models`, `fetch_latest_cards/2-of-4`."""
    timings = []
    for path in benchmark_files:
        with open(path, newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        name = str(Path(path).relative_to(root).with_suffix(""))
        timings.append((name, round(float(row["s"]), 2)))
    return sorted(timings, key=lambda item: (-item[1], item[0]))


def plot_timings(benchmark_files: Iterable[str], root: str, path: str) -> None:
    """Drawn every time: a run's wall times are never those of the run before."""
    timings = stage_seconds(benchmark_files, root)
    bar_chart(path, "Wall time per job", timings, xlabel="seconds")
