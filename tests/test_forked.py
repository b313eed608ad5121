"""Work in forked worker processes, a bounded window in flight (hfharvest/forked.py)."""

from __future__ import annotations

import os

from hfharvest import forked


def square(number: int) -> tuple[int, int]:
    return number * number, os.getpid()


def test_every_item_comes_back_with_its_result_and_the_window_stays_bounded(monkeypatch):
    peaks: list[int] = []
    monkeypatch.setattr(forked, "count_worker_peak", peaks.append)
    monkeypatch.setattr(forked, "BATCH", 3)
    back, most_running = {}, 0
    with forked.ForkedWindow(square, 2) as window:
        for number in range(100):
            back |= dict(window.add(f"item {number}", (number,)))
            most_running = max(most_running, len(window._running))
        back |= dict(window.rest())
    assert {item: value for item, (value, _) in back.items()} == {
        f"item {n}": n * n for n in range(100)
    }
    workers = {pid for _, pid in back.values()}
    assert os.getpid() not in workers and 1 <= len(workers) <= 2
    assert most_running < 2 * forked.WINDOW_PER_WORKER
    assert len(peaks) == len(workers)  # each worker's peak counted once, as the window closes
