"""CPU of the extract chain's jobs (list_latest_models, fetch_latest_cards, extract_latest,
merge_models, add_ancestor_models) on a kept run, each called in this process as its script
calls it.

The jobs read the run's listing (`--run`) under `--data` and write into `--out` (the run folder
is not touched; the caches and the card store under `--data` are used, and written, as a job
would). A listing whose READMEs the cache holds needs no Hub: run it on a copy of a kept
hub-scale data root's `cache/hf`, `cache/identify` and `store/cards`, with the endpoint of its
config (the cache's key). CPU by getrusage (this process and its children): the machine is
shared and wall time noisy. `list` (not in the default jobs) lists `--num-models` from the
endpoint, a replica of the run's N (`python -m hfharvest.replica --scale N --seed 0
--latency-ms 0 --page-size 1000`), into `--out`. `--profile PREFIX` writes a cProfile of each
job to PREFIX.<job>.

    PYTHONPATH=. .venv/bin/python bench/extract_warm.py --data DATA --run warm \
        --endpoint http://127.0.0.1:42537 --out /tmp/ew --jobs fetch,merge
"""

from __future__ import annotations

import argparse
import cProfile
import resource
import time
from pathlib import Path

import yaml

from hfharvest.jsonio import read_tail
from hfharvest.stages.ancestors import STATED, add_ancestors
from hfharvest.stages.identify import cache_from
from hfharvest.stages.merge import write_merged
from hfharvest.stages.shards import METADATA, gather, latest_shard, shard_tails, summed_metadata
from hfharvest.workflow import extractor_from, write_stage

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"


def cpu_seconds() -> float:
    own, children = (resource.getrusage(who) for who in (resource.RUSAGE_SELF,
                                                         resource.RUSAGE_CHILDREN))  # fmt: skip
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def listing(config: dict, run: Path, out: Path) -> None:
    """list_latest_models, from the endpoint (a replica of the run's N), into `out`."""
    extractor = extractor_from(config, cache=False)
    outcomes = extractor.listing_outcomes(config["hf"]["num_models"], config["hf"]["offset"])
    write_stage(str(out / "latest_listing.json.gz"), "list_latest_models", outcomes, extractor)


def fetch(config: dict, run: Path, out: Path) -> None:
    extractor = extractor_from(config)
    outcomes = latest_shard(extractor, str(run / "shards/latest_listing.json.gz"), "1-of-1")
    write_stage(str(out / "shard.json"), "fetch_latest_cards", outcomes, extractor)


def extract(config: dict, run: Path, out: Path) -> None:
    listing, shards = str(run / "shards/latest_listing.json.gz"), [str(out / "shard.json")]
    first = read_tail(listing, ("failures", *METADATA))
    outcomes = gather(shards, first_failures=first.get("failures", []), parsed=False)
    metadata = summed_metadata([first, *shard_tails(shards)])
    write_stage(str(out / "hf_models_latest.json.gz"), "extract_latest", outcomes, None, metadata)


def merge(config: dict, run: Path, out: Path) -> None:
    latest, from_file = out / "hf_models_latest.json.gz", run / "hf_models_from_file.json.gz"
    write_merged(str(out / "hf_models.json"), [str(latest), str(from_file)])


def ancestors(config: dict, run: Path, out: Path) -> None:
    extractor, renamed = extractor_from(config, shared=True), {}
    iterations = config["hf"]["base_model_iterations"]
    outcomes = add_ancestors(extractor, str(out / "hf_models.json"), iterations, renamed,
                             cache_from(config, STATED))  # fmt: skip
    write_stage(str(out / "hf_models_with_ancestors.json"), "add_ancestor_models", outcomes,
                extractor, {"renamed": renamed})  # fmt: skip


JOBS = {"list": listing, "fetch": fetch, "extract": extract, "merge": merge, "ancestors": ancestors}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="the data root")
    parser.add_argument("--run", required=True, help="the run id whose listing is read")
    parser.add_argument("--endpoint", required=True, help="the Hub endpoint of that run")
    parser.add_argument("--out", type=Path, required=True, help="where the jobs write")
    parser.add_argument("--num-models", type=int, default=100_000, help="what `list` lists")
    parser.add_argument(
        "--jobs", default=",".join(list(JOBS)[1:]), help="comma-separated, in order"
    )
    parser.add_argument("--profile", help="write a cProfile of each job to PROFILE.<job>")
    args = parser.parse_args()
    config = yaml.safe_load(CONFIG.read_text())
    config.update(data_root=str(args.data), run_id=args.run)
    config["hub"]["endpoint"], config["hf"]["models_file"] = args.endpoint, None
    config["hf"]["num_models"] = args.num_models
    args.out.mkdir(parents=True, exist_ok=True)
    run = args.data / "1_raw" / "hf" / args.run
    for name in args.jobs.split(","):
        before, wall = cpu_seconds(), time.monotonic()
        if args.profile:
            profile = cProfile.Profile()
            profile.runcall(JOBS[name], config, run, args.out)
            profile.dump_stats(f"{args.profile}.{name}")
        else:
            JOBS[name](config, run, args.out)
        print(f"{name}: {cpu_seconds() - before:.2f} s CPU, {time.monotonic() - wall:.2f} s wall")


if __name__ == "__main__":
    main()
