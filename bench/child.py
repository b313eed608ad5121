"""One benchmark job in a fresh interpreter: python bench/child.py JOB.json

A stage job runs what the Snakemake script of that stage runs (the extractor, the stage
function, `write_stage`); the naive job runs bench/naive.py. Either way the child reports its
wall time (the work only: not interpreter start-up and imports), its peak RSS (VmHWM, read at
the end) and counts, as JSON in the file `job["result"]`.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import Counter
from pathlib import Path

from harness import cpu_s, peak_rss_mb

STAGES = ("extract_latest", "extract_from_file", "merge_models", "add_ancestor_models")


class Tally:
    """Counts outcomes as they stream to the writer; with `keep`, each model's card status/sha."""

    def __init__(self, keep: bool):
        self.models = 0
        self.failures: Counter = Counter()
        self.kept: dict[str, list] | None = {} if keep else None

    def count(self, outcomes):
        for record, failure in outcomes:
            if record is not None:
                self.models += 1
                if self.kept is not None:
                    meta = record["extraction_metadata"]
                    self.kept[record["modelId"]] = [meta["card_status"], record["sha"]]
            if failure is not None:
                part = f"/{failure['part']}" if failure.get("part") else ""
                self.failures[failure["reason"] + part] += 1
            yield record, failure


def stage_job(job: dict) -> dict:
    from hfharvest.cache import CardCache
    from hfharvest.cards import CardStore
    from hfharvest.hub import README_MAX_BYTES, process_rate_limiter
    from hfharvest.stages.ancestors import add_ancestors
    from hfharvest.stages.extract import Extractor
    from hfharvest.stages.merge import merge_artifacts
    from hfharvest.workflow import client_from, start_log, write_stage

    start_log(job["log"])
    tally = Tally(keep=job.get("keep", False))
    started, cpu = time.perf_counter(), cpu_s()
    stage, extractor = job["stage"], None
    if stage == "merge_models":
        outcomes = merge_artifacts(job["inputs"])
    else:
        # What `extractor_from` builds from a run's config, with the bench's own cache folder.
        # README texts go to a card store beside the cache, as `<data_root>/store/cards`.
        cache = None
        if job["cache_dir"]:
            store = CardStore(Path(job["cache_dir"]).parent / "store" / "cards", README_MAX_BYTES)
            cache = CardCache(job["cache_dir"], job["endpoint"], store)
        extractor = Extractor(client_from({"endpoint": job["endpoint"]}), cache, job["threads"])
        if stage == "extract_latest":
            outcomes = extractor.latest(job["num_models"])
        elif stage == "extract_from_file":
            outcomes = extractor.from_file(job.get("models_file"))
        else:
            outcomes = add_ancestors(extractor, job["inputs"][0], job["iterations"])
    write_stage(job["out"], stage, tally.count(outcomes), extractor)
    result = {"wall_s": time.perf_counter() - started, "cpu_s": cpu_s() - cpu}
    result["models"] = tally.models
    result |= {"failures": dict(tally.failures), "kept": tally.kept}
    if extractor is not None:
        result["client_requests"] = dict(process_rate_limiter().requests)
        result["limiter_waited_s"] = process_rate_limiter().waited_s
        cache = extractor.cache
        result["card_cache"] = {"hits": cache.hits, "misses": cache.misses} if cache else None
    return result


def naive_job(job: dict) -> dict:
    logging.basicConfig(filename=job["log"], level=logging.WARNING, force=True)
    sys.stderr = open(job["log"], "a", buffering=1)  # noqa: SIM115 - lives as long as the job
    import naive

    model_ids = json.loads(Path(job["ids_file"]).read_text())
    started, cpu = time.perf_counter(), cpu_s()
    outcomes = naive.harvest(model_ids, threads=job["threads"])
    wall_s, cpu = time.perf_counter() - started, cpu_s() - cpu
    models = sum(n for outcome, n in outcomes.items() if not outcome.startswith("no info"))
    return {"wall_s": wall_s, "cpu_s": cpu, "models": models, "outcomes": dict(outcomes)}


def main() -> None:
    job = json.loads(Path(sys.argv[1]).read_text())
    result = naive_job(job) if job["stage"] == "naive" else stage_job(job)
    result["peak_rss_mb"] = peak_rss_mb()
    Path(job["result"]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
