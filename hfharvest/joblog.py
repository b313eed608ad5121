"""A job's logging: the rule's log file, and the console for what the user must see.

Apart from workflow.py so that the jobs that never call the Hub (identify, most enrich) start
without importing the Hub client.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path


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
    # huggingface_hub logs full URLs at debug level only; keep it at warnings.
    logging.getLogger("huggingface_hub").setLevel(logging.WARNING)
    logging.getLogger("httpx2").setLevel(logging.WARNING)
