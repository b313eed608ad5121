"""The offline pipeline through a real SLURM cluster, compared with the same run on local cores.

Needs the one-node cluster of ci/slurm/setup.sh (`make test-slurm` starts it, see run_test.sh).
Steps: start a replica hub on 127.0.0.1; copy the workflow twice into a scratch folder (as
tests/workflow_runner.py does); run config/demo.yaml against the replica
  1. through SLURM: --profile ci/slurm/profile --workflow-profile profiles/slurm
     --default-resources <profiles/slurm's> slurm_partition=debug
  2. locally: --cores 2 with profiles/default
then require the same JSON artifacts with the same contents, once volatile fields are dropped.
Prints both runs' job counts and wall times. Exit 0 = equal; 1 = a difference or a failed run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SITE_PROFILE = REPO / "ci" / "slurm" / "profile"
PARTITION = "debug"
RUN_ID = "slurm-compare"
sys.path.insert(0, str(REPO / "tests"))
from workflow_runner import copy_workflow  # noqa: E402 - copied as the e2e tests copy it

from hfharvest.jsonio import read_json  # noqa: E402 - by suffix: the run's .json.gz too

# Dropped wherever they occur, by key: when a record was fetched (`extracted_at`), and what a job
# cost — requests per rate-limit bucket (`hub_requests` in stage files, `requests` per stage in
# summary.json) and card-cache hits, which depend on which of two parallel extract jobs fetches a
# shared README first (a race, locally as on SLURM); and the digest of a listing file, whose
# records hold their `extracted_at` (shards/latest_listing_shas.json.gz: its rows are compared).
VOLATILE_KEYS = frozenset(
    {"extracted_at", "hub_requests", "requests", "card_cache", "listing_sha256"}
)
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
JOB_RULE = re.compile(r"^(local)?rule (\w+):", re.MULTILINE)
SUBMITTED = re.compile(r"^Job \d+ has been submitted with SLURM jobid (\d+)", re.MULTILINE)
SLURM_RUN_ID = re.compile(r"SLURM run ID: (\S+)")


def say(message: str) -> None:
    print(f"test-slurm: {message}", flush=True)


class Failure(Exception):
    """A clear reason the test failed; printed without a traceback."""


# -- the replica hub --------------------------------------------------------------------------
class Replica:
    def __init__(self, folder: Path):
        self.folder = folder
        self.process: subprocess.Popen | None = None
        self.url = ""

    def start(self, timeout_s: float = 60) -> str:
        ready = self.folder / "replica.url"
        log = open(self.folder / "replica.log", "w")  # noqa: SIM115 - owned by the child
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hfharvest.replica",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--ready-file",
                str(ready),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout_s
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise Failure(f"the replica hub did not start; see {self.folder / 'replica.log'}")
            time.sleep(0.1)
        self.url = ready.read_text().strip()
        return self.url

    def requests(self) -> int:
        with urllib.request.urlopen(f"{self.url}/_replica/stats", timeout=10) as response:
            return json.load(response)["total"]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


# -- one workflow run -------------------------------------------------------------------------
class Run:
    def __init__(self, name: str, root: Path, replica: Replica):
        self.name, self.root, self.replica = name, root, replica
        copy_workflow(root)
        config = yaml.safe_load((root / "config" / "demo.yaml").read_text())
        config["run_id"] = RUN_ID
        config.setdefault("hub", {})["endpoint"] = replica.url
        self.data_root = config.get("data_root", "data")
        (root / "test_config.yaml").write_text(yaml.safe_dump(config))
        self.log = root / f"{name}.log"
        self.seconds = 0.0
        self.output = ""
        self.requests = 0

    @property
    def run_folder(self) -> Path:
        return self.root / self.data_root / "1_raw" / "hf" / RUN_ID

    def execute(self, args: list[str], timeout_s: float, cleanup=None) -> None:
        command = [sys.executable, "-m", "snakemake", "--configfile", "test_config.yaml", *args]
        # Every `replica` endpoint of the demo config (arXiv's too) means this replica; the
        # workflow then starts none of its own. SLURM jobs inherit it (sbatch --export=ALL).
        env = {**os.environ, "HFHARVEST_REPLICA_URL": self.replica.url}
        env.pop("SLURM_JOB_ID", None)
        say(f"{self.name} run: {' '.join(command[1:])}")
        before = self.replica.requests()
        start = time.monotonic()
        with open(self.log, "w") as log:
            process = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                returncode = process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                stop_process_group(process)
                if cleanup:
                    cleanup(self)
                raise Failure(
                    f"{self.name} run took over {timeout_s:.0f} s; log: {self.log}\n"
                    + tail(self.log.read_text(), 30)
                ) from None
            except BaseException:  # interrupted: its own session gets no Ctrl-C, so pass it on
                stop_process_group(process)
                if cleanup:
                    cleanup(self)
                raise
        self.seconds = time.monotonic() - start
        self.requests = self.replica.requests() - before
        self.output = self.log.read_text()
        if returncode != 0:
            raise Failure(
                f"{self.name} run failed ({returncode}); log: {self.log}\n"
                + tail(self.output, 60)
                + self.failed_job_logs()
            )
        say(f"{self.name} run done in {self.seconds:.0f} s")

    def failed_job_logs(self) -> str:
        text = ""
        for match in re.finditer(r"^Error in rule \w+:.*?(?=^\S|\Z)", self.output, re.M | re.S):
            for path in re.findall(r"(\S+\.log)", match.group(0)):
                log = Path(path) if Path(path).is_absolute() else self.root / path
                if log.is_file():
                    text += f"\n--- {log}\n{tail(log.read_text(), 40)}"
        return text

    def jobs(self) -> Counter:
        """Rule name -> jobs that ran, from Snakemake's own log."""
        return Counter(rule for _, rule in JOB_RULE.findall(self.output))

    def local_jobs(self) -> Counter:
        return Counter(rule for local, rule in JOB_RULE.findall(self.output) if local)


def stop_process_group(process: subprocess.Popen) -> None:
    """SIGINT first: Snakemake then cancels its SLURM jobs itself (scancel); SIGKILL after 60 s."""
    for sig, grace in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


# -- SLURM facts ------------------------------------------------------------------------------
def check_cluster() -> None:
    try:
        state = subprocess.run(
            ["sinfo", "--noheader", "--partition", PARTITION, "--format=%T"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        raise Failure(f"sinfo did not answer ({err}): run ci/slurm/setup.sh first") from err
    states = state.stdout.split()
    if state.returncode != 0 or not {"idle", "mixed", "allocated"} & set(states):
        answer = state.stdout.strip() or state.stderr.strip()
        raise Failure(
            f"partition {PARTITION!r} has no usable node ({answer}): run ci/slurm/setup.sh first"
        )
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError as err:
        raise Failure(
            "snakemake-executor-plugin-slurm is missing: `make setup` (dev extras)"
        ) from err


def slurm_config(key: str) -> str | None:
    result = subprocess.run(
        ["scontrol", "show", "config"], capture_output=True, text=True, timeout=30
    )
    match = re.search(rf"^{key}\s*=\s*(.*)$", result.stdout, re.MULTILINE)
    return match.group(1).strip() if match else None


def slurm_jobs(run_uuid: str) -> list[dict]:
    """The finished SLURM jobs of one Snakemake run: jobcomp/filetxt records, else squeue."""
    records = []
    if slurm_config("JobCompType") == "jobcomp/filetxt":
        location = Path(slurm_config("JobCompLoc") or "")
        for _ in range(20):  # slurmctld writes the record as the job ends
            records = [
                dict(re.findall(r"(\w+)=(\S*)", line))
                for line in location.read_text().splitlines()
                if f" Name={run_uuid} " in line
            ]
            if records:
                break
            time.sleep(0.5)
    if not records:
        result = subprocess.run(
            ["squeue", "--noheader", "--states=all", "--name", run_uuid, "--format=%i %T"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        records = [
            dict(zip(("JobId", "JobState"), line.split(), strict=False))
            for line in result.stdout.splitlines()
        ]
    return records


def slurm_run(run: Run, timeout_s: float) -> dict:
    profile = yaml.safe_load((run.root / "profiles" / "slurm" / "config.yaml").read_text())
    local = yaml.safe_load((run.root / "profiles" / "default" / "config.yaml").read_text())
    missing = {r.split("=")[0] for r in local.get("resources", [])} - {
        r.split("=")[0] for r in profile.get("resources", [])
    }
    if missing:
        raise Failure(
            f"profiles/slurm/config.yaml lacks the global resources {sorted(missing)} that "
            "profiles/default sets: without them SLURM runs jobs with no such budget"
        )
    # The site's partition, on the command line as a user would give it: the list replaces the
    # profile's default-resources, so it repeats them.
    default_resources = [*profile.get("default-resources", []), f"slurm_partition={PARTITION}"]

    def cancel_leftovers(run: Run) -> None:
        found = SLURM_RUN_ID.search(run.log.read_text())
        if found:
            subprocess.run(["scancel", "--name", found.group(1)], timeout=30, check=False)

    run.execute(
        [
            "--profile",
            str(SITE_PROFILE),
            "--workflow-profile",
            "profiles/slurm",
            "--default-resources",
            *default_resources,
        ],
        timeout_s,
        cleanup=cancel_leftovers,
    )
    found = SLURM_RUN_ID.search(run.output)
    if not found:
        raise Failure(f"no 'SLURM run ID' in the SLURM run's log {run.log}: did it use SLURM?")
    submitted = SUBMITTED.findall(run.output)
    records = slurm_jobs(found.group(1))
    states = Counter(record.get("JobState", "?") for record in records)
    remote = run.jobs() - run.local_jobs()
    if len(submitted) != sum(remote.values()):
        raise Failure(f"{sum(remote.values())} remote jobs but {len(submitted)} sbatch submissions")
    if len(records) != len(submitted):
        raise Failure(
            f"SLURM saw {len(records)} jobs {dict(states)}; Snakemake submitted {len(submitted)}"
        )
    if set(states) != {"COMPLETED"}:  # the run succeeded, so restart-times made up for them
        say(f"WARNING: not every SLURM job completed at first: {dict(states)}")
    check_job_python(run)
    return {"run_uuid": found.group(1), "slurm_jobs": len(records), "states": dict(states)}


def check_job_python(run: Run) -> None:
    """Each SLURM job ran Snakemake from this venv (the plugin's sbatch uses sys.executable)."""
    logs = sorted((run.root / ".snakemake" / "slurm_logs").rglob("*.log"))
    commands = [m for log in logs for m in re.findall(r"^\s*Command: (\S+)", log.read_text(), re.M)]
    if not commands:
        raise Failure("no SLURM job log names its command (slurm-keep-successful-logs off?)")
    site_packages = Path(sys.prefix).resolve()
    strangers = {c for c in commands if not Path(c).resolve().is_relative_to(site_packages)}
    if strangers:
        raise Failure(f"SLURM jobs ran Snakemake outside {sys.prefix}: {sorted(strangers)}")


# -- comparing the artifacts ------------------------------------------------------------------
def normalised(value, window: tuple[datetime, datetime], path: str, dropped: Counter):
    """`value` less the volatile keys and any timestamp from the test's own time window."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key in VOLATILE_KEYS:
                dropped[f"{generic(path)}/{key}"] += 1
                continue
            out[key] = normalised(item, window, f"{path}/{key}", dropped)
        return out
    if isinstance(value, list):
        return [normalised(item, window, f"{path}/{i}", dropped) for i, item in enumerate(value)]
    if isinstance(value, str) and TIMESTAMP.match(value) and in_window(value, window):
        dropped[f"{generic(path)} (time-based)"] += 1
        return "<time>"
    return value


def in_window(stamp: str, window: tuple[datetime, datetime]) -> bool:
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return window[0] <= moment <= window[1]


def generic(path: str) -> str:
    return re.sub(r"/\d+(?=/|$)", "/*", path)


def differences(a, b, path: str = "") -> list[str]:
    if type(a) is not type(b):
        return [f"{path or '/'}: {short(a)} != {short(b)}"]
    if isinstance(a, dict):
        out = [f"{path}/{k}: only in {'SLURM' if k in a else 'local'}" for k in set(a) ^ set(b)]
        for key in sorted(set(a) & set(b)):
            out += differences(a[key], b[key], f"{path}/{key}")
        return out
    if isinstance(a, list):
        out = [f"{path}: {len(a)} items != {len(b)}"] if len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += differences(x, y, f"{path}/{i}")
        return out
    return [] if a == b else [f"{path or '/'}: {short(a)} != {short(b)}"]


def short(value) -> str:
    text = json.dumps(value)
    return text if len(text) < 80 else text[:77] + "..."


def artifacts(folder: Path) -> set[Path]:
    """The run's JSON files, gzip-compressed ones too; hidden folders (the run's record cache,
    `.records/`) are not output."""
    found = [*folder.rglob("*.json"), *folder.rglob("*.json.gz")]
    paths = (p.relative_to(folder) for p in found)
    return {p for p in paths if not any(part.startswith(".") for part in p.parts)}


def compare(slurm: Path, local: Path, window: tuple[datetime, datetime]) -> Counter:
    names, local_names = artifacts(slurm), artifacts(local)
    if not names:
        raise Failure(f"the SLURM run wrote no JSON under {slurm}")
    if names != local_names:
        raise Failure(
            f"different artifacts: only SLURM {sorted(map(str, names - local_names))}, "
            f"only local {sorted(map(str, local_names - names))}"
        )
    dropped: Counter = Counter()
    problems = []
    for name in sorted(names):
        a = normalised(read_json(slurm / name), window, "", dropped)
        b = normalised(read_json(local / name), window, "", Counter())
        found = differences(a, b)
        if found:
            problems.append(
                f"{name}: {len(found)} differences, e.g.\n    " + "\n    ".join(found[:5])
            )
    if problems:
        raise Failure("SLURM and local artifacts differ (SLURM != local):\n" + "\n".join(problems))
    say(f"{len(names)} JSON artifacts equal: {', '.join(sorted(map(str, names)))}")
    return dropped


# -- main -------------------------------------------------------------------------------------
def interrupted(signum, frame):
    """SIGTERM (a CI timeout, `kill`) unwinds like Ctrl-C: runs stop, SLURM jobs are cancelled."""
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scratch", type=Path, help="folder for the two runs (default: a temp one)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder on success")
    parser.add_argument("--slurm-timeout", type=float, default=1800, help="seconds")
    parser.add_argument("--local-timeout", type=float, default=600, help="seconds")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, interrupted)
    scratch = args.scratch or Path(tempfile.mkdtemp(prefix="hfharvest-slurm-"))
    scratch.mkdir(parents=True, exist_ok=True)
    replica = Replica(scratch)
    ok = False
    try:
        check_cluster()
        (scratch / "slurm").mkdir()
        (scratch / "local").mkdir()
        say(f"replica hub at {replica.start()}; scratch folder {scratch}")
        started = datetime.now(UTC).replace(microsecond=0)
        slurm = Run("slurm", scratch / "slurm", replica)
        local = Run("local", scratch / "local", replica)
        facts = slurm_run(slurm, args.slurm_timeout)
        local.execute(["--cores", "2"], args.local_timeout)
        window = (started, datetime.now(UTC))
        dropped = compare(slurm.run_folder, local.run_folder, window)
        say(
            "dropped before comparing: "
            + ", ".join(f"{k} ({n})" for k, n in sorted(dropped.items()))
        )
        remote = slurm.jobs() - slurm.local_jobs()
        print(
            f"\n{'run':<7}{'wall time':>11}{'jobs':>6}{'SLURM jobs':>12}{'local jobs':>12}"
            f"{'Hub requests':>14}\n"
            f"{'slurm':<7}{slurm.seconds:>10.0f}s{sum(slurm.jobs().values()):>6}"
            f"{facts['slurm_jobs']:>12}{sum(slurm.local_jobs().values()):>12}{slurm.requests:>14}\n"
            f"{'local':<7}{local.seconds:>10.0f}s{sum(local.jobs().values()):>6}{0:>12}"
            f"{sum(local.jobs().values()):>12}{local.requests:>14}\n"
            f"SLURM run {facts['run_uuid']}: {facts['states']}; by rule: "
            + ", ".join(f"{rule} {n}" for rule, n in sorted(remote.items()))
            + f"; local in that run: {', '.join(sorted(slurm.local_jobs())) or 'none'}",
            flush=True,
        )
        if set(slurm.jobs()) != set(local.jobs()):
            raise Failure(
                f"the runs ran different rules: SLURM {sorted(slurm.jobs())}, "
                f"local {sorted(local.jobs())}"
            )
        ok = True
        print("test-slurm: 1 passed, 0 failed")
        return 0
    except Failure as failure:
        print(f"test-slurm: FAILED: {failure}", file=sys.stderr)
        print("test-slurm: 0 passed, 1 failed")
        return 1
    except KeyboardInterrupt:
        print("test-slurm: interrupted", file=sys.stderr)
        return 130
    finally:
        replica.stop()
        if ok and not args.keep and not args.scratch:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            say(f"kept {scratch}")


if __name__ == "__main__":
    sys.exit(main())
