"""Summary: counts per stage, failures by reason, entities per kind and how many were enriched."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from ..jsonio import iter_failures, read_counts, read_failures, read_json
from ..runconfig import retry_command
from .enrich import file_enrichment_counts, file_identification_counts
from .extract import JobFailed

# Failures a retry with the same settings cannot mend: the model is not there, the id is not
# one, or its README needs a token that has access.
PERMANENT = {"not_found", "invalid_id", "bad_input", "disabled", "gated"}
# Where the run's failures are, the most complete first (later stages carry earlier failures).
FAILURE_FILES = [
    ["hf_models_with_ancestors.json"],
    ["hf_models.json"],
    ["hf_models_latest.json.gz", "hf_models_from_file.json.gz"],
]


def summarize(run_folder: str, stages: dict[str, str], identified=(), enriched=()) -> dict:
    summary = {"run_folder": run_folder, "stages": {}, "identified": {}, "enriched": {}}
    for name, path in stages.items():
        reasons = Counter(failure["reason"] for failure in iter_failures(path))
        counts = {**read_counts(path), "failures_by_reason": dict(sorted(reasons.items()))}
        summary["stages"][name] = counts
    for path in identified:
        summary["identified"][Path(path).stem] = file_identification_counts(path)
    for path in enriched:
        summary["enriched"][Path(path).name] = file_enrichment_counts(path)
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


def requested_counts(latest: str, from_file: str, file_ids: str, num_models: int) -> dict:
    """How many models the run asked for (the latest N, the models file's lines) and how many
    of them it lost outright: failures of the model itself (not of its README), and the models
    a listing that broke off never named."""
    latest_failures = read_failures(latest)
    lost = sum(1 for failure in latest_failures if "part" not in failure)
    if any(failure.get("part") == "listing" for failure in latest_failures):
        lost = max(lost, num_models - read_counts(latest)["models"])
    lost += sum(1 for failure in read_failures(from_file) if "part" not in failure)
    ids = read_json(file_ids)
    requested = num_models + len(ids["ids"]) + len(ids["failures"])
    fraction = round(lost / requested, 4) if requested else 0.0
    return {"models": requested, "failed": lost, "failed_fraction": fraction}


def check_failed_fraction(requested: dict, max_fraction: float) -> None:
    """JobFailed when more of the requested models failed outright than the run accepts."""
    if requested["failed_fraction"] > max_fraction:
        raise JobFailed(
            f"{requested['failed']} of {requested['models']} requested models failed outright "
            f"({requested['failed_fraction']:.0%}), more than max_failed_fraction = {max_fraction}:"
            " the run is not complete enough to use; see the failures below, retry them, or "
            "raise max_failed_fraction"
        )


def failure_report(run_folder: str, argv: list[str], next_retry: int) -> str:
    """The run's failures by reason, as a console table, and the command that retries them."""
    folder = Path(run_folder)
    failures: list[dict] = []
    for names in FAILURE_FILES:
        if all((folder / name).is_file() for name in names):
            failures = [f for name in names for f in read_failures(folder / name)]
            break
    if not failures:
        return ""
    table = Counter((f.get("reason", "?"), _part(f)) for f in failures)
    reasons = sorted({reason for reason, _ in table})
    lines = [f"hfharvest: {len(failures)} failures in {run_folder}",
             f"  {'reason':<14} {'models':>7} {'READMEs':>8} {'other':>6}"]  # fmt: skip
    for reason in reasons:
        counts = [table[(reason, part)] for part in ("model", "card", "other")]
        lines.append(f"  {reason:<14} {counts[0]:>7} {counts[1]:>8} {counts[2]:>6}")
    if set(reasons) - PERMANENT:
        lines.append(f"retry what failed: {retry_command(argv, next_retry)}")
    return "\n".join(lines)


def _part(failure: dict) -> str:
    part = failure.get("part")
    return "model" if part is None else "card" if part == "card" else "other"
