"""A job's logging: the rule's log file, and the console for what the user must see.

Apart from workflow.py so that the jobs that never call the Hub (identify, most enrich) start
without importing the Hub client.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import gc
import logging
import sys
from pathlib import Path

from .redact import RedactingFilter

RESOURCES = "job resources:"  # the log's last line; bench/hub_scale.py reads it
_worker_peaks_kib: list[int] = []  # the job's worker processes' own peaks (count_worker_peak)
# glibc raises its mmap threshold to the size of each large block freed (up to 32 MiB); after
# that, READMEs and answers of a few MB come from the threads' heaps, whose holes are not given
# back, and a job's RSS grows with the models it reads: a cold fetch peaked at 118 MB for 30 000
# models and 150 MB for 60 000. At glibc's own initial threshold, kept fixed, large blocks stay
# in mmap and are returned when freed: 74 and 78 MB. Python has no API for it: mallopt.
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 128 * 1024


def start_log(path: str) -> None:
    """Send logging and progress bars (stderr) to the rule's log file; records logged with
    `extra=CONSOLE` also go to the job's own stderr, which Snakemake shows on its console."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    stream = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115 - lives as long as the job
    console = logging.StreamHandler(sys.__stderr__)
    console.addFilter(lambda record: getattr(record, "console", False))
    console.setFormatter(logging.Formatter("hfharvest: %(message)s"))
    sys.stderr = stream
    logging.basicConfig(
        stream=stream, level=logging.INFO, force=True,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )  # fmt: skip
    logging.getLogger().addHandler(console)
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    # huggingface_hub logs full URLs at debug level only; keep it at warnings.
    logging.getLogger("huggingface_hub").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
    atexit.unregister(log_resources)  # once, however often a process starts a log (tests)
    atexit.register(log_resources)
    freeze_at_exit()
    fix_mmap_threshold()


def freeze_at_exit() -> None:
    """At this process's exit, before the interpreter tears its modules down, move every object
    the garbage collector tracks into its permanent generation (`gc.freeze`). The teardown's
    collections then skip them: they walked every object the process's libraries had made,
    0.05 s of a job's exit and 0.3 s of Snakemake's (measured on a loaded machine; 0.01 s
    frozen). What they would still have freed, the process's end frees."""
    atexit.unregister(gc.freeze)  # once, however often it is asked
    atexit.register(gc.freeze)


def fix_mmap_threshold() -> None:
    """Keep glibc's mmap threshold at 128 KiB for this process (see _M_MMAP_THRESHOLD)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc (musl, macOS): no mallopt
        ctypes.CDLL(None).mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)


def log_resources() -> None:
    """Log the job's exact CPU time and peak RSS, the kernel's own counts. Snakemake's benchmark
    files sample (every 30 s after the first 15 s), so a long job's last interval of CPU and
    its real peak can fall between two samples."""
    import resource  # POSIX only; imported where used

    own, children = (
        resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
    )
    cpu_s = own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime
    if sys.platform == "linux":
        own_kib = own_peak_rss_kib()
    else:  # ru_maxrss: bytes on macOS, KiB elsewhere
        own_kib = own.ru_maxrss / (1024 if sys.platform == "darwin" else 1)
    peak_mb = (own_kib + sum(_worker_peaks_kib)) / 1024  # workers' peaks added: an upper bound
    logging.getLogger(__name__).info("%s cpu_s=%.2f max_rss_mb=%.1f", RESOURCES, cpu_s, peak_mb)


def count_worker_peak(kib: int) -> None:
    """A worker process's own peak RSS, added to the job's in its resources line."""
    _worker_peaks_kib.append(kib)


def own_peak_rss_kib() -> int:
    """This process's own peak RSS (`VmHWM`). Linux's ru_maxrss keeps, across exec, the parent's
    resident pages at the fork that started the job: Snakemake's, some 160 MB, for every job."""
    return _status_kib("VmHWM:")


def own_rss_kib() -> int:
    """This process's RSS now (`VmRSS`)."""
    return _status_kib("VmRSS:")


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1])
    return 0
