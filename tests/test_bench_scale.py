"""The pure parts of `make bench`'s hub-scale scenario (bench/hub_scale.py): Snakemake's
benchmark files, disk counted once per inode, and the projection to 1.5 M models. Expected values
are worked out by hand in the comments; no timing is asserted."""

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import hub_scale  # noqa: E402
from hub_scale import Jobs, Run  # noqa: E402

# Snakemake's benchmark header, as it writes it under <data_root>/benchmarks/<run_id>/.
HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, *rows: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(row + "\n" for row in rows))


def test_rule_jobs_sums_shards_and_keeps_the_largest_rss(tmp_path):
    write_benchmark(
        tmp_path / "summarize_run.tsv",
        "11.03\t0:00:11\t56.49\t88.46\t44.00\t45.56\t0.02\t0.09\t30.11\t3.52",
    )
    write_benchmark(
        tmp_path / "fetch_latest_cards/1-of-2.tsv",
        "5.80\t0:00:05\t100.20\t300\t90\t91\t0\t1\t50\t3.90",
    )
    write_benchmark(
        tmp_path / "fetch_latest_cards/2-of-2.tsv",
        "4.20\t0:00:04\t120.50\t310\t95\t96\t0\t1\t45\t2.10",
    )
    jobs = hub_scale.rule_jobs(tmp_path)
    assert jobs["summarize_run"] == Jobs(1, 11.03, 3.52, 56.49)
    shards = jobs["fetch_latest_cards"]
    assert shards.count == 2
    assert shards.wall_s == pytest.approx(10.0)  # 5.8 + 4.2
    assert shards.cpu_s == pytest.approx(6.0)  # 3.9 + 2.1
    assert shards.rss_mb == 120.5


def test_a_job_too_short_to_sample_counts_zero_and_the_last_repeat_wins(tmp_path):
    write_benchmark(
        tmp_path / "write_delta.tsv",
        "0.70\t0:00:00\t-\t-\t-\t-\t-\t-\t-\t-",
        "0.60\t0:00:00\t40.1\t80\t30\t31\t0\t0\t10\tNA",
    )
    assert hub_scale.rule_jobs(tmp_path)["write_delta"] == Jobs(1, 0.6, 0.0, 40.1)


def test_a_job_log_s_exact_resources_replace_the_sampled_ones(tmp_path):
    benchmarks, logs = tmp_path / "benchmarks", tmp_path / "logs"
    write_benchmark(
        benchmarks / "fetch_latest_cards/1-of-2.tsv",
        "95.00\t0:01:35\t100.20\t300\t90\t91\t0\t1\t50\t61.00",
    )
    write_benchmark(
        benchmarks / "fetch_latest_cards/2-of-2.tsv",
        "4.20\t0:00:04\t120.50\t310\t95\t96\t0\t1\t45\t2.10",
    )
    (logs / "fetch_latest_cards").mkdir(parents=True)
    (logs / "fetch_latest_cards/1-of-2.log").write_text(
        "2026-11-30 10:00:00,000 INFO hfharvest.stages: 100 models\n"
        "2026-11-30 10:01:35,000 INFO hfharvest.joblog: job resources: cpu_s=88.25 "
        "max_rss_mb=412.5\n"
    )
    # shard 2 has no log line (an older run): its samples stay
    jobs = hub_scale.rule_jobs(benchmarks, logs)["fetch_latest_cards"]
    assert jobs.cpu_s == pytest.approx(90.35)  # 88.25 logged + 2.10 sampled
    assert jobs.rss_mb == 412.5  # the logged peak, above both samples
    assert jobs.wall_s == pytest.approx(99.2)  # wall is the benchmark's: 95.0 + 4.2


def test_disk_bytes_counts_a_hard_linked_file_once(tmp_path):
    first, second = tmp_path / "run1", tmp_path / "run2"
    first.mkdir(), second.mkdir()
    shared = first / "models.jsonl"
    shared.write_bytes(os.urandom(256 * 1024))
    os.link(shared, second / "models.jsonl")
    (second / "delta.json").write_bytes(b"{}")
    shared_bytes = shared.stat().st_blocks * 512
    assert shared_bytes >= 256 * 1024
    # Each folder alone shows the shared file; together they hold it once.
    each = hub_scale.disk_bytes(first) + hub_scale.disk_bytes(second)
    assert hub_scale.disk_bytes(first, second) == each - shared_bytes
    assert hub_scale.disk_bytes(tmp_path / "absent") == 0


def test_hub_hours_is_the_slowest_budget():
    rates = {"api": 0.5, "resolvers": 1.0, "arxiv": 0.001}
    # Free: api 750 000 / 1 000 = 750 windows of 5 min = 62.5 h; resolvers 300 windows = 25 h;
    # arXiv 1 500 / 100 = 15 windows.
    assert hub_scale.hub_hours(rates, hub_scale.LIMITS["free"], 1_500_000) == pytest.approx(62.5)
    # PRO: api 750 000 / 2 500 = 300 windows = 25 h; resolvers 1.5 M / 12 000 = 125 windows.
    assert hub_scale.hub_hours(rates, hub_scale.LIMITS["PRO"], 1_500_000) == pytest.approx(25.0)
    assert hub_scale.hub_hours({}, hub_scale.LIMITS["free"], 1_500_000) == 0.0


def test_the_published_limits_and_the_readme_floor():
    assert hub_scale.LIMITS["free"]["api"] == 1000
    assert hub_scale.LIMITS["free"]["resolvers"] == 5000
    assert hub_scale.readme_floor_hours(1_500_000) == pytest.approx(25.0)  # 300 windows
    assert hub_scale.readme_floor_hours(1_500_000, "PRO") == pytest.approx(1500 / 144)  # 125 w.


def test_linear_through_zero_from_one_n_and_on_the_slope_from_two():
    assert hub_scale.linear([(20_000, 100.0)], 1_500_000) == pytest.approx(7500.0)
    # 60 MB at 20 000, 100 MB at 100 000: 0.0005 MB per model, 100 + 0.0005 x 1.4 M = 800 MB.
    assert hub_scale.linear([(100_000, 100.0), (20_000, 60.0)], 1_500_000) == pytest.approx(800)
    # Three N: the two largest decide (the smallest carries start-up costs).
    points = [(3_000, 50.0), (20_000, 60.0), (100_000, 100.0)]
    assert hub_scale.linear(points, 1_500_000) == pytest.approx(800)


def run(name, n, rules=None, total=None, hub_total=0, changed=0, identified=None, **more) -> Run:
    requests = {"total": total or {}}
    hub = {"total": hub_total, "by_endpoint": {"list_models": n // 1000, "resolve_get": 0}}
    disk = {"data_root growth": more.get("disk", 100)}
    return Run(
        name,
        n,
        more.get("wall_s", 100.0),
        more.get("cpu_s", 100.0),
        rules or {},
        requests,
        identified or {},
        hub,
        disk,
        changed,
    )


def test_changed_entities_counts_kinds_that_grew_not_model_ids():
    cold = run(
        "cold",
        3000,
        identified={
            "datasets": {"distinct_entities": 350},
            "articles": {"distinct_entities": 208},
            "identifiers": {"distinct_entities": 3019},
        },
    )
    warm = run(
        "warm",
        3000,
        identified={
            "datasets": {"distinct_entities": 352},
            "articles": {"distinct_entities": 207},
            "identifiers": {"distinct_entities": 3030},
        },
    )
    assert hub_scale.changed_entities(cold, warm) == 2  # datasets +2; fewer articles: 0


def test_warm_requests_goal_allows_two_percent_over_changes_and_pages():
    cold = run("cold", 3000)
    # 60 changed models + 3 listing pages: 1.02 x 63 = 64.26 requests allowed.
    met = hub_scale.warm_requests_goal(cold, run("warm", 3000, hub_total=64, changed=60))
    missed = hub_scale.warm_requests_goal(cold, run("warm", 3000, hub_total=65, changed=60))
    assert met[1] and not missed[1]


def test_projected_rss_uses_each_rules_largest_run_per_n():
    by_n = {
        20_000: [
            run("cold", 20_000, {"a": Jobs(1, 1, 1, 100.0)}),
            run("warm", 20_000, {"a": Jobs(1, 1, 1, 80.0)}),
        ],
        100_000: [run("cold", 100_000, {"a": Jobs(1, 1, 1, 180.0)})],
    }
    # 100 -> 180 MB over 80 000 models: 0.001 MB per model; 180 + 1 400 = 1 580 MB at 1.5 M.
    assert hub_scale.projected_rss(by_n) == {"a": pytest.approx(1580.0)}
    assert hub_scale.projected_rss({20_000: by_n[20_000]}) == {}
    # A rule measured lower at the larger N projects to its largest measurement, not below.
    by_n[100_000][0].rules["b"] = Jobs(1, 1, 1, 70.0)
    by_n[20_000][1].rules["b"] = Jobs(1, 1, 1, 90.0)
    assert hub_scale.projected_rss(by_n)["b"] == 90.0
    assert not hub_scale.rss_goal(by_n)[1]


def test_goals_on_hand_made_runs():
    rules = {"a": Jobs(1, 1, 1, 50.0)}
    # Cold: 1.0 resolvers + 0.2 api per model: 1.5 M / 5 000 = 300 windows = 25 h, the floor.
    cold = run("cold", 20_000, rules, {"api": 4_000, "resolvers": 20_000}, cpu_s=200, disk=1000)
    # Warm: 400 changed + 20 pages, 428 sent (<= 1.02 x 420 = 428.4); 0.0204 resolvers/model:
    # 30 600 / 5 000 = 6.12 windows = 0.51 h. CPU 20 of 200 = 10 %; disk 150 of 1000 = 15 %.
    warm = run(
        "warm",
        20_000,
        rules,
        {"api": 20, "resolvers": 408},
        hub_total=428,
        changed=400,
        cpu_s=20,
        disk=150,
    )
    small = [run("cold", 5_000, rules), run("warm", 5_000, rules)]
    found = {name: met for name, met, _ in hub_scale.goals({5_000: small, 20_000: [cold, warm]})}
    assert found == {
        "hub-scale RSS": True,
        "hub-scale warm requests": True,
        "hub-scale warm CPU": True,
        "hub-scale warm disk": False,
        "hub-scale daily refresh at 1.5M": True,
        "hub-scale cold at 1.5M": True,
    }


def test_croissant_documents_and_the_dataset_listing_are_projected_per_run_not_per_model():
    # The 100 000-model cold run: 2 179 api (list_models 100, model_info 29, dataset_info 23,
    # tasks 1, croissant 2 000, list_datasets 26) and 100 023 resolvers.
    cold = run("cold", 100_000, total={"api": 2_179, "resolvers": 100_023})
    cold.hub["by_endpoint"] |= {"croissant": 2_000, "list_datasets": 26}
    # api: 153 per 100 000 models -> 2 295 at 1.5 M, + 2 000 Croissant + 500 listing pages =
    # 4 795 -> 4.795 windows; resolvers: 1.00023 x 1.5 M / 5 000 = 300.069 windows = 25.006 h.
    assert hub_scale.per_run(cold) == {"api": 2_500}
    assert hub_scale.projected_hours(cold) == pytest.approx(300.069 * 5 / 60)
    assert hub_scale.hub_hours({"api": 0.00153}, {"api": 1000}, 1_500_000, {"api": 2_500}) == (
        pytest.approx(4.795 * 5 / 60)
    )
    # Croissant the cold run deferred counts beside the changed entities in the warm goal.
    warm = run("warm", 100_000, hub_total=4_101, changed=2_000)
    warm.hub["by_endpoint"] |= {"croissant": 2_000}
    # 1.02 x (2 000 changed + 100 pages) + 0 entities + 2 000 Croissant = 4 142 >= 4 101.
    assert hub_scale.warm_requests_goal(cold, warm)[1]
