"""CPU of normalize_fair4ml's work on a warm run (issue 10), measured in this process.

Fills a document cache from one run folder (`--cold`: every document made, or copied from
`--seed`, a cache filled earlier at the same code), then times the stage on another run folder
of the same data root (`--warm`) with a copy of that cache, `--repeat` times, each on a fresh
copy: CPU by getrusage (this process and its children), as the machine is shared and wall time
noisy. `--profile FILE` writes a cProfile of the last warm pass.

    PYTHONPATH=. .venv/bin/python bench/normalize_warm.py --data DATA_ROOT --scratch /tmp/nw \
        --seed DATA_ROOT/cache/normalize --repeat 2
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import shutil
import time
from pathlib import Path

from harness import warm_data_args

from hfharvest.cards import CardStore, store_root
from hfharvest.normalize.doc_cache import DocumentCache
from hfharvest.normalize.inputs import RunInputs
from hfharvest.normalize.linked_stage import normalize_linked_data


def cpu_seconds() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_stage(args: argparse.Namespace, run_id: str, cache: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    inputs = RunInputs.from_folder(args.data / "1_raw" / "hf" / run_id)
    store = CardStore(args.store or store_root(args.data), 5 * 1024 * 1024)
    return normalize_linked_data(inputs, out / "models.jsonl.gz", out / "datasets.jsonl.gz",
                                 out / "triples.nt.gz", args.max_chars, DocumentCache(cache),
                                 store)  # fmt: skip


def timed(call) -> tuple[dict, float, float]:
    cpu, wall = cpu_seconds(), time.monotonic()
    result = call()
    return result, cpu_seconds() - cpu, time.monotonic() - wall


def warm_pass(args: argparse.Namespace, cache: Path, profiled: Path | None) -> dict:
    if profiled is None:
        return run_stage(args, args.warm, cache, args.scratch / "warm")
    profile = cProfile.Profile()
    stats = profile.runcall(run_stage, args, args.warm, cache, args.scratch / "warm")
    profile.dump_stats(profiled)
    return stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    warm_data_args(parser)
    parser.add_argument("--store", type=Path, help="the card store (default: the data root's)")
    parser.add_argument("--seed", type=Path, help="a cache to start from (copied, not changed)")
    parser.add_argument("--max-chars", type=int, default=4000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", type=Path)
    args = parser.parse_args()
    filled = args.scratch / "cache-filled"
    if not filled.exists():
        if args.seed:
            shutil.copytree(args.seed, filled, symlinks=True)
        _, cpu, wall = timed(lambda: run_stage(args, args.cold, filled, args.scratch / "cold"))
        print(f"fill ({args.cold}): CPU {cpu:.1f} s, wall {wall:.1f} s")
    for attempt in range(args.repeat):
        cache = args.scratch / "cache-warm"
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(filled, cache, symlinks=True)
        profiled = args.profile if attempt == args.repeat - 1 else None
        stats, cpu, wall = timed(lambda: warm_pass(args, cache, profiled))  # noqa: B023
        hits = stats["models.jsonl.gz"].get("from_cache")
        print(f"warm ({args.warm}) #{attempt + 1}: CPU {cpu:.1f} s, wall {wall:.1f} s, "
              f"{hits} documents from the cache")  # fmt: skip


if __name__ == "__main__":
    main()
