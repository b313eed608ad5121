"""A job's log ends with the kernel's own count of its CPU time and peak RSS."""

import re
import subprocess
import sys

JOB = """
import sys
from hfharvest.joblog import start_log
start_log(sys.argv[1])
block = b"x" * (300 << 20)  # 300 MiB, every page written
sum(range(3_000_000))
"""


def test_a_job_log_ends_with_its_peak_rss_and_cpu(tmp_path):
    log = tmp_path / "logs" / "job.log"
    subprocess.run([sys.executable, "-c", JOB, str(log)], check=True, timeout=120)
    last = log.read_text().splitlines()[-1]
    found = re.search(r"job resources: cpu_s=([\d.]+) max_rss_mb=([\d.]+)$", last)
    assert found, last
    cpu_s, rss_mb = map(float, found.groups())
    assert 300 <= rss_mb < 600  # the block, plus an interpreter
    assert cpu_s > 0


def test_a_job_that_fails_still_logs_its_resources(tmp_path):
    log = tmp_path / "job.log"
    failing = JOB.replace("sum(range(3_000_000))", "raise SystemExit(3)")
    done = subprocess.run([sys.executable, "-c", failing, str(log)], timeout=120)
    assert done.returncode == 3
    assert "job resources: cpu_s=" in log.read_text().splitlines()[-1]


def test_the_parent_s_memory_is_not_the_job_s(tmp_path):
    """A job started by a process holding 400 MiB (as Snakemake holds its DAG) peaks at its own
    size: Linux's ru_maxrss would report the parent's."""
    log = tmp_path / "job.log"
    tiny = "import sys\nfrom hfharvest.joblog import start_log\nstart_log(sys.argv[1])\n"
    parent = (
        "import subprocess, sys\n"
        "held = b'x' * (400 << 20)\n"
        "subprocess.run([sys.executable, '-c', sys.argv[1], sys.argv[2]], check=True)\n"
    )
    subprocess.run([sys.executable, "-c", parent, tiny, str(log)], check=True, timeout=120)
    rss_mb = float(log.read_text().splitlines()[-1].rsplit("max_rss_mb=", 1)[1])
    assert 5 < rss_mb < 200


def test_a_job_exits_without_collecting_its_libraries_objects_again(tmp_path):
    """At exit the objects are frozen (gc.freeze) before the interpreter's teardown, whose
    collections would walk them all; the log still ends with the job's resources."""
    log = tmp_path / "job.log"
    code = (
        "import atexit, gc, sys\n"
        "atexit.register(lambda: print(gc.get_freeze_count() > 0))  # runs after the job's own\n"
        "from hfharvest.joblog import start_log\n"
        "start_log(sys.argv[1])\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(log)], capture_output=True,
                          text=True, check=True, timeout=120)  # fmt: skip
    assert done.stdout.strip() == "True"
    assert "job resources: cpu_s=" in log.read_text().splitlines()[-1]
