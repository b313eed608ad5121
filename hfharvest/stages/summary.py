"""Summary: counts per stage, failures by reason, entities per kind and how many were enriched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..jsonio import read_counts, read_failures, read_json
from .enrich import enrichment_counts, identification_counts


def summarize(run_folder: str, stages: dict[str, str], identified=(), enriched=()) -> dict:
    summary = {"run_folder": run_folder, "stages": {}, "identified": {}, "enriched": {}}
    for name, path in stages.items():
        reasons = Counter(failure["reason"] for failure in read_failures(path))
        counts = {**read_counts(path), "failures_by_reason": dict(sorted(reasons.items()))}
        summary["stages"][name] = counts
    for path in identified:
        summary["identified"][Path(path).stem] = identification_counts(read_json(path))
    for path in enriched:
        summary["enriched"][Path(path).name] = enrichment_counts(read_json(path))
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"run folder: {summary['run_folder']}"]
    for name, counts in summary["stages"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in counts["failures_by_reason"].items())
        lines.append(
            f"  {name:<26} {counts['models']:>7} models    {counts['failures']:>5} failures"
            + (f" ({reasons})" if reasons else "")
        )
    for kind, counts in summary.get("identified", {}).items():
        lines.append(
            f"  identified {kind:<15} {counts['distinct_entities']:>7} entities  in "
            f"{counts['models_with_entities']} of {counts['models']} models"
        )
    for name, counts in summary.get("enriched", {}).items():
        reasons = ", ".join(f"{k} {v}" for k, v in counts["unresolved_by_reason"].items())
        lines.append(
            f"  {name:<26} {counts['enriched']:>7} enriched  {counts['unresolved']:>5} unresolved"
            + (f" ({reasons})" if reasons else "")
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m hfharvest.stages.summary <run folder>/summary.json
    import sys

    print(format_summary(read_json(sys.argv[1])))
