"""Disk of a cold run and of a warm run with 2 % of the models changed (issue 10, item 3).

    .venv/bin/python bench/disk.py [--models N] [--changed 0.02] [--workdir DIR] [--repo DIR]

Runs the whole workflow twice against a replica hub with `--scale N` (latency 0, pages of
1000): run `cold`, then `POST /_replica/change` on a seeded 2 % of the listed models, then run
`warm` on the same data root. `--repo` runs another checkout's workflow and package (a
before/after comparison). Prints the bytes each run added to its run folder, its
normalized folder, the caches and the card store, and the warm run's share of the cold's.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from harness import Replica

REPO = Path(__file__).resolve().parents[1]
SEED = 7


def size(path: Path) -> int:
    """Bytes of the regular files under `path` (what `du --apparent-size -b` counts)."""
    if not path.exists():
        return 0
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def areas(root: Path, run_id: str) -> dict[str, int]:
    return {
        "run folder": size(root / "1_raw" / "hf" / run_id),
        "normalized": size(root / "2_normalized" / "hf" / run_id),
        "cache": size(root / "cache"),
        "store": size(root / "store"),
    }


def run(workdir: Path, hub: Replica, run_id: str, n: int, repo: Path) -> float:
    config = {
        "run_id": run_id,
        "data_root": str(workdir / "data"),
        "hub": {"endpoint": hub.url, "max_retries": 1},
        "hf": {"num_models": n, "models_file": None, "threads": 8},
        "arxiv": {"endpoint": f"{hub.url}/api/query", "delay_s": 0},
    }
    path = workdir / f"{run_id}.yaml"
    path.write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", "--configfile", str(path), "--cores", "2"]
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run(command, cwd=repo, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"snakemake failed:\n{result.stderr[-3000:]}")
    return time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=20_000)
    parser.add_argument("--changed", type=float, default=0.02)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--repo", type=Path, default=REPO)
    args = parser.parse_args(argv)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="hfharvest-disk-"))
    root = workdir / "data"
    rows = []
    with Replica(workdir, "disk", scale=args.models, latency_ms=0, page_size=1000) as hub:
        before = areas(root, "cold")
        wall = run(workdir, hub, "cold", args.models, args.repo)
        cold = {k: v - before[k] for k, v in areas(root, "cold").items()}
        rows.append(("cold", wall, cold))
        ids = hub.latest_ids(args.models)
        picked = random.Random(SEED).sample(ids, int(len(ids) * args.changed))
        changed = hub.change(picked)
        shared_before = areas(root, "warm")
        wall = run(workdir, hub, "warm", args.models, args.repo)
        warm = {k: v - shared_before[k] for k, v in areas(root, "warm").items()}
        rows.append((f"warm ({len(changed)} changed)", wall, warm))
    print(f"N = {args.models}, data root {root}")
    print(f"{'run':<22} {'wall s':>7} " + " ".join(f"{k:>12}" for k in cold) + f" {'total':>12}")
    for name, wall, figures in rows:
        cells = " ".join(f"{v / 2**20:>10.1f}MB" for v in figures.values())
        print(f"{name:<22} {wall:>7.0f} {cells} {sum(figures.values()) / 2**20:>10.1f}MB")
    share = sum(warm.values()) / max(1, sum(cold.values()))
    print(f"warm / cold disk: {share:.1%}")
    print(json.dumps({"cold": cold, "warm": warm}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
