"""A map over a thread pool that streams: input order kept, a bounded window in flight."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(func: Callable[[T], R], items: Iterable[T], threads: int,
                answer_here: Callable[[T], R | None] | None = None,
                window_per_thread: int = 4) -> Iterator[R]:  # fmt: skip
    """`map` over a thread pool that keeps input order and only a bounded window in flight.

    `answer_here(item)` answers in the calling thread the items it can (None: it cannot, and
    `func` gets the item in the pool): a warm run finds nearly every README in the cache, and
    handing each lookup to a thread added GIL and lock hand-offs (11 % of a warm fetch's CPU at
    100 000 models). At most `threads * window_per_thread` results are held at once."""
    window = max(1, threads) * window_per_thread
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        pending: deque = deque()
        for item in items:
            answer = None if answer_here is None else answer_here(item)
            pending.append(pool.submit(func, item) if answer is None else _Ready(answer))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


class _Ready:
    """An answer already had, in the window beside the pool's Futures (a Future of its own,
    with its condition and lock, cost a warm run more than the cache lookup it carried)."""

    __slots__ = ("_result",)

    def __init__(self, result):
        self._result = result

    def result(self):
        return self._result
