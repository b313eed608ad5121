"""Progress bars for long loops, written to the job's log (stderr is redirected there)."""

from __future__ import annotations

import sys

from tqdm import tqdm


def progress(iterable=None, *, total=None, desc: str = ""):
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=2.0, ascii=True)


# `log.warning(..., extra=CONSOLE)`: the record also goes to the console (see workflow.start_log).
CONSOLE = {"console": True}
