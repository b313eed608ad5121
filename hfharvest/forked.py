"""Items worked on in forked worker processes, a bounded window of them in flight: a job streams
its items in and gets each one's result back as it is done, so its memory does not grow with
their number.

Forked, so Linux only (callers decide): a spawned worker would run the job's script again,
Snakemake's `__main__`. A worker inherits the job's log; its peak RSS beyond what it shared with
the job at the fork adds to the job's (joblog). The workers are forked while the job holds open
files and databases they never touch; they leave with `os._exit`, which closes none of them.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait

from .joblog import count_worker_peak, own_peak_rss_kib, own_rss_kib

BATCH = 16  # items a task: few round trips, and the last tasks still spread over the workers
WINDOW_PER_WORKER = 2  # tasks in flight a worker: one to work on, one queued


class ForkedWindow:
    """`with ForkedWindow(function, workers) as window:` then `window.add(item, args)` and
    `window.rest()`, each giving `(item, function(*args))` of finished items, in any order.
    `function` (module level, picklable by name) runs in a worker; `item` stays here."""

    def __init__(self, function: Callable, workers: int, initializer: Callable | None = None,
                 initargs: tuple = ()):  # fmt: skip
        self._function = function
        self._window = workers * WINDOW_PER_WORKER
        self._shared_kib = own_rss_kib()
        self._pool = ProcessPoolExecutor(
            workers, multiprocessing.get_context("fork"), initializer, initargs
        )
        self._batch: list[tuple] = []
        self._running: dict[Future, list] = {}
        self._peaks: dict[int, int] = {}

    def __enter__(self) -> ForkedWindow:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, item, args: tuple) -> list[tuple]:
        """The item queued; the items that finished while the window was full."""
        self._batch.append((item, args))
        if len(self._batch) >= BATCH:
            self._submit()
        finished = []
        while len(self._running) >= self._window:
            finished += self._finished()
        return finished

    def rest(self) -> Iterator[tuple]:
        """The items still in flight, as they finish."""
        if self._batch:
            self._submit()
        while self._running:
            yield from self._finished()

    def close(self) -> None:
        self._pool.shutdown(cancel_futures=True)
        for peak_kib in self._peaks.values():
            count_worker_peak(max(0, peak_kib - self._shared_kib))
        self._peaks = {}

    def _submit(self) -> None:
        items = [item for item, _ in self._batch]
        args = [args for _, args in self._batch]
        self._running[self._pool.submit(_run, self._function, args)] = items
        self._batch = []

    def _finished(self) -> Iterator[tuple]:
        done, _ = wait(self._running, return_when=FIRST_COMPLETED)
        for future in done:
            items = self._running.pop(future)
            results, pid, peak_kib = future.result()
            self._peaks[pid] = max(peak_kib, self._peaks.get(pid, 0))
            yield from zip(items, results, strict=True)


def _run(function: Callable, batch: list[tuple]) -> tuple[list, int, int]:
    return [function(*args) for args in batch], os.getpid(), own_peak_rss_kib()
