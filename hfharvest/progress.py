"""Progress bars for long loops, written to the job's log (stderr is redirected there)."""

from __future__ import annotations

import sys


def progress(iterable=None, *, total=None, desc: str = ""):
    from tqdm import tqdm  # 80 ms of imports: only for the jobs that show progress

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=2.0, ascii=True)


# `log.warning(..., extra=CONSOLE)`: the record also goes to the console (see workflow.start_log).
CONSOLE = {"console": True}
