"""Shared helpers: a replica hub in its own process, a job in a child process, a stats poller."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

BENCH = Path(__file__).resolve().parent
CHILD = BENCH / "child.py"


class Replica:
    """`python -m hfharvest.replica` in its own process (its memory is not the harvest's)."""

    def __init__(self, workdir: Path, name: str, **options):
        self.folder = Path(workdir) / f"replica-{name}"
        self.options = options
        self.process: subprocess.Popen | None = None
        self.url = ""

    def __enter__(self) -> Replica:
        self.folder.mkdir(parents=True, exist_ok=True)
        ready = self.folder / "url"
        ready.unlink(missing_ok=True)
        command = [sys.executable, "-m", "hfharvest.replica", "--port", "0"]
        command += ["--ready-file", str(ready)]
        for key, value in self.options.items():
            command += [f"--{key.replace('_', '-')}", str(value)]
        log = open(self.folder / "replica.log", "w")  # noqa: SIM115 - the child owns it
        # cwd: `-m` puts it first on sys.path; the hfharvest to run is the one installed (or
        # on PYTHONPATH), never whatever folder the bench was started from.
        self.process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=self.folder
        )
        deadline = time.monotonic() + 600  # --scale 100000 builds its catalogue first
        while not ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"replica did not start; see {self.folder / 'replica.log'}")
            time.sleep(0.05)
        self.url = ready.read_text().strip()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the replica process has used so far."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _call(self, route: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{route}", data=data, method="GET")
        if data is not None:
            request.method = "POST"
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.load(response), response.headers

    def stats(self) -> dict:
        return self._call("/_replica/stats")[0]

    def reset(self) -> None:
        self._call("/_replica/reset", {})

    def change(self, ids: list[str]) -> list[str]:
        return self._call("/_replica/change", {"ids": ids})[0]["changed"]

    def latest_ids(self, n: int) -> list[str]:
        """The ids `extract_latest` will harvest, in its order; the stats are reset after."""
        query = urlencode({"sort": "lastModified", "limit": n})
        route, ids = f"/api/models?{query}", []
        while route and len(ids) < n:
            page, headers = self._call(route)
            ids += [model["id"] for model in page]
            link = headers.get("Link", "")
            route = link[link.index("/api/") : link.index(">")] if 'rel="next"' in link else ""
        self.reset()
        return ids[:n]


def run_child(workdir: Path, name: str, job: dict, env: dict | None = None) -> dict:
    """Run one job (see child.py) in a fresh interpreter; returns what the child reported."""
    folder = Path(workdir) / "jobs"
    folder.mkdir(parents=True, exist_ok=True)
    slug = name.replace(" ", "_").replace("/", "_").replace("%", "pct")
    paths = {key: folder / f"{slug}.{key}" for key in ("job.json", "result.json", "log", "out")}
    job = {**job, "log": str(paths["log"]), "result": str(paths["result.json"])}
    paths["job.json"].write_text(json.dumps(job))
    with paths["out"].open("w") as out:
        done = subprocess.run(
            [sys.executable, str(CHILD), str(paths["job.json"])],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_environment(env or {}),
        )
    if done.returncode != 0:
        tail = "".join(_tail(paths[key]) for key in ("out", "log"))
        raise RuntimeError(f"job {name!r} failed (exit {done.returncode}):\n{tail}")
    return json.loads(paths["result.json"].read_text())


def _environment(changes: dict) -> dict:
    """os.environ with `changes` applied; a value of None removes the variable."""
    environment = dict(os.environ)
    for key, value in changes.items():
        if value is None:
            environment.pop(key, None)
        else:
            environment[key] = value
    return environment


def _tail(path: Path, lines: int = 15) -> str:
    if not path.exists():
        return ""
    return f"--- {path}\n" + "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class StatsPoller:
    """Samples the replica's counters while a job runs: (seconds since start, stats)."""

    def __init__(self, hub: Replica, interval_s: float = 0.1):
        self.hub, self.interval_s = hub, interval_s
        self.samples: list[tuple[float, dict]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> StatsPoller:
        self._started = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        self.samples.append((time.monotonic() - self._started, self.hub.stats()))

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            stats = self.hub.stats()
            stats.pop("readme_gets"), stats.pop("model_info_gets")  # keep the samples small
            self.samples.append((time.monotonic() - self._started, stats))


def cpu_s() -> float:
    """CPU seconds (user + system, all threads) this process has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm_data_args(parser) -> None:
    """The arguments of a bench that replays a job on a kept data root's cold and warm runs."""
    parser.add_argument("--data", type=Path, required=True, help="a data_root after both runs")
    parser.add_argument("--scratch", type=Path, required=True, help="caches and outputs go here")
    parser.add_argument("--cold", default="cold")
    parser.add_argument("--warm", default="warm")
