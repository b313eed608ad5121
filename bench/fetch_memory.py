"""Peak RSS of a cold README fetch (the fetch_latest_cards job's work) at a given N, with glibc's
mmap threshold left dynamic (`default`) or kept fixed as every job keeps it (`fixed`).

    .venv/bin/python bench/fetch_memory.py 30000 60000      # both modes at each N

Each (N, mode) runs in a fresh interpreter against its own synthetic replica (no latency,
pages of 1000), lists the N latest models, then fetches every README into a fresh cache with
8 threads, and prints the process's peak RSS before and after the fetch.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
CHILD = """
import resource, sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from harness import Replica
from hfharvest.cache import CardCache
from hfharvest.cards import CardStore
from hfharvest.hub import README_MAX_BYTES, HubClient
from hfharvest.joblog import fix_mmap_threshold
from hfharvest.stages.extract import Extractor
from hfharvest.stages.shards import latest_shard
from hfharvest.workflow import write_stage

n, mode, work = {n}, {mode!r}, Path({work!r})
if mode == "fixed":
    fix_mmap_threshold()
def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
with Replica(work, "hub", scale=n, seed=0, latency_ms=0, page_size=1000) as hub:
    client = HubClient(hub.url, max_retries=1)
    listing = str(work / "listing.json.gz")
    write_stage(listing, "list", Extractor(client, None, threads=4).listing_outcomes(n))
    before, started = peak_mb(), time.time()
    cache = CardCache(work / "readmes", hub.url, CardStore(work / "store", README_MAX_BYTES))
    extractor = Extractor(client, cache, threads=8)
    write_stage(str(work / "shard.json"), "fetch", latest_shard(extractor, listing, "1-of-1"))
    wall = time.time() - started
    print(f"{{n:>8}}  {{mode:<8}} {{wall:7.0f}} {{before:10.0f}} {{peak_mb():9.0f}}")
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, nargs="+", help="models to fetch (one run per N and mode)")
    args = parser.parse_args()
    print(f"{'N':>8}  {'mode':<8} {'wall s':>7} {'RSS before':>10} {'peak RSS':>9}  (MB)")
    for n in args.n:
        for mode in ("default", "fixed"):
            with tempfile.TemporaryDirectory(prefix="fetch-memory-") as work:
                code = CHILD.format(bench=str(BENCH), n=n, mode=mode, work=work)
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
                if done.returncode != 0:
                    raise SystemExit(f"N={n} {mode} failed:\n{done.stderr[-3000:]}")
                print(done.stdout.rstrip().splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
