"""Summary: counts per stage and failures by reason, for people and for scripts."""

from __future__ import annotations

from collections import Counter

from ..jsonio import read_counts, read_failures


def summarize(run_folder: str, artifacts: dict[str, str]) -> dict:
    stages = {}
    for name, path in artifacts.items():
        reasons = Counter(failure["reason"] for failure in read_failures(path))
        stages[name] = {**read_counts(path), "failures_by_reason": dict(sorted(reasons.items()))}
    return {"run_folder": run_folder, "stages": stages}


def format_summary(summary: dict) -> str:
    lines = [f"run folder: {summary['run_folder']}"]
    for name, counts in summary["stages"].items():
        reasons = ", ".join(f"{k} {v}" for k, v in counts["failures_by_reason"].items())
        lines.append(
            f"  {name:<32} {counts['models']:>7} models  {counts['failures']:>5} failures"
            + (f" ({reasons})" if reasons else "")
        )
    return "\n".join(lines)
