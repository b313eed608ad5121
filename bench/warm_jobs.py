"""CPU of the identify, summary, tables, catalogue and plot jobs on a warm run (issue 10), each in
a fresh process.

Runs what each job's script runs (scripts/identify.py, summarize_run.py's counts,
normalize_tables.py, build_catalogue.py, plot_lineage_families.py, plot_run_report.py) on a kept
data root holding a cold and a warm run (bench/run.py --keep), writing only under `--scratch`
(identify reads the data root's card store). The caches (identify rows, table rows, pictures)
are filled from the cold run first, at this code, then each warm pass starts from a copy of
them.
CPU by getrusage (the child's own and its children's, imports included), as the machine is
shared and wall time noisy.

    PYTHONPATH=. .venv/bin/python bench/warm_jobs.py --data DATA_ROOT --scratch /tmp/wj --repeat 3
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from harness import warm_data_args

JOBS = ("identify", "summarize_run", "normalize_tables", "plot_lineage_families", "plot_run_report",
        "build_catalogue")  # fmt: skip
UNCACHED = ("summarize_run", "build_catalogue")  # nothing to fill from the cold run
STAGES = {"extract_latest": "hf_models_latest.json.gz", "merge_models": "hf_models.json",
          "extract_from_file": "hf_models_from_file.json.gz",
          "add_ancestor_models": "hf_models_with_ancestors.json"}  # fmt: skip
ENDPOINT = "http://127.0.0.1"  # the partition the table cache is read from (any, if the same)


def run_job(job: str, data: Path, run: str, out: Path, caches: Path, cached: bool) -> None:
    """One job, as its script runs it, in this process."""
    from hfharvest.jsonio import write_json
    from hfharvest.workflow import start_log

    raw, normalized = data / "1_raw" / "hf" / run, data / "2_normalized" / "hf" / run
    (out / "report").mkdir(parents=True, exist_ok=True)
    start_log(str(out / f"{job}.log"))
    if job == "identify":
        identify(data, raw, out, caches, cached)
        return
    if job == "summarize_run":
        summarize(raw, out)
        return
    if job == "normalize_tables":
        from hfharvest.normalize.inputs import RunInputs
        from hfharvest.normalize.stage import normalize_tables
        from hfharvest.normalize.table_cache import TableCache

        inputs = RunInputs.from_folder(raw, STAGES)
        cache = TableCache(caches / "tables", ENDPOINT) if cached else None
        write_json(out / "counts.json", normalize_tables(inputs, out, run, 10_000, cache))
        return
    if job == "build_catalogue":
        from hfharvest.normalize.catalogue import build_catalogue

        tables = {path.stem: path for path in sorted((normalized / "tables").glob("*.parquet"))}
        write_json(out / "counts.json", build_catalogue(tables, out / "catalogue.duckdb"))
        return
    from hfharvest.plot_cache import PlotCache

    plots = PlotCache(caches / "plots") if cached else None
    if job == "plot_lineage_families":
        from hfharvest.normalize.families import plot_families

        edges = normalized / "tables" / "lineage_edges.parquet"
        plot_families(str(edges), str(out / "report" / "lineage_families.png"), cache=plots)
        return
    from hfharvest import report

    names = ("pipeline_tags", "libraries", "licenses", "lineage", "entities", "timings")
    pictures = {name: str(out / "report" / f"{name}.png") for name in names}
    licences = raw / "identified" / "licenses.json"
    report.plot_models(str(raw / "hf_models_with_ancestors.json"), str(licences), pictures, plots)
    report.plot_entities(str(raw / "summary.json"), pictures["entities"], plots)
    benchmarks = data / "benchmarks" / run
    timed = sorted(str(path) for path in benchmarks.rglob("*.tsv"))
    report.plot_timings(timed, str(benchmarks), pictures["timings"])


def identify(data: Path, raw: Path, out: Path, caches: Path, cached: bool) -> None:
    """scripts/identify.py's pass, two workers for what the cache does not answer."""
    from hfharvest.cards import store_from
    from hfharvest.stages.identify import ROWS, ResultCache, identify_run, kind_outputs

    kinds = ["articles", "base_models", "datasets", "identifiers", "keywords", "languages",
             "licenses", "tasks"]  # fmt: skip
    named = {kind: out / f"{kind}.json" for kind in kinds}
    named |= {name: out / f"{name}.json" for name in ("base_model_relations", "dataset_sources")}
    cache = ResultCache(caches / "identify" if cached else None, ENDPOINT, ROWS)
    models = str(raw / "hf_models_with_ancestors.json")
    cards = store_from({"data_root": str(data)})
    identify_run(kind_outputs(named, kinds), models, cache, cards, 1000, workers=2)


def summarize(raw: Path, out: Path) -> None:
    """scripts/summarize_run.py's counts of the stage, identify and enrich files."""
    from hfharvest.jsonio import write_json
    from hfharvest.stages.summary import summarize

    enriched = ("hf_datasets_specific.json", "arxiv_articles.json", "hf_base_models.json",
                "keywords.json", "languages.json", "licenses.json", "tasks.json")  # fmt: skip
    kinds = ("articles", "base_models", "datasets", "keywords", "languages", "licenses",
             "tasks", "identifiers")  # fmt: skip
    summary = summarize(str(raw), {name: str(raw / path) for name, path in STAGES.items()},
                        [str(raw / "identified" / f"{kind}.json") for kind in kinds],
                        [str(raw / name) for name in enriched])  # fmt: skip
    write_json(out / "summary.json", summary)


def child_cpu(args: argparse.Namespace, job: str, run: str, caches: Path) -> float:
    """CPU seconds of one job in a fresh interpreter (its imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    call = [sys.executable, __file__, "--child", job, run, str(caches), "--data", str(args.data),
            "--scratch", str(args.scratch)] + (["--no-cache"] if args.no_cache else [])  # fmt: skip
    subprocess.run(call, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    warm_data_args(parser)
    parser.add_argument("--job", action="append", choices=JOBS, help="default: all")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-cache", action="store_true", help="no rows cached, no pictures")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        job, run, caches = args.child
        out = args.scratch / "out" / run / job
        run_job(job, args.data, run, out, Path(caches), not args.no_cache)
        return
    filled = args.scratch / "caches-filled"
    for job in args.job or JOBS:
        if job not in UNCACHED:
            print(f"{job} fill ({args.cold}): CPU {child_cpu(args, job, args.cold, filled):.2f} s")
        for attempt in range(args.repeat):
            caches = args.scratch / "caches-warm"
            shutil.rmtree(caches, ignore_errors=True)
            if filled.exists():
                shutil.copytree(filled, caches)
            cpu = child_cpu(args, job, args.warm, caches)
            print(f"{job} warm ({args.warm}) #{attempt + 1}: CPU {cpu:.2f} s")


if __name__ == "__main__":
    main()
