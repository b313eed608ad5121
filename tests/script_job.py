"""A rule's script run as Snakemake runs it: in a process of its own whose `__main__` is a file,
the script given a `snakemake` object (files by name and by position, params, config, threads).

    python tests/script_job.py '<spec as JSON>'

prints, last, the modules loaded whose top-level package is in the spec's `heavy`."""

import json
import runpy
import sys
from types import SimpleNamespace


class Files(list):
    """Snakemake's named file lists: by position, by name, and `items()`."""

    def __init__(self, named: dict):
        super().__init__(named.values())
        self.__dict__.update(named)
        self._named = named

    def items(self):
        return self._named.items()


def run_script(spec: dict) -> None:
    snakemake = SimpleNamespace(
        input=Files(spec["input"]), output=Files(spec["output"]), log=[spec["log"]],
        params=SimpleNamespace(**spec["params"]), config=spec["config"],
        rule=spec.get("rule", ""), threads=spec.get("threads", 1),
        wildcards=SimpleNamespace(**spec.get("wildcards", {})),
    )  # fmt: skip
    runpy.run_path(spec["script"], init_globals={"snakemake": snakemake})


if __name__ == "__main__":
    spec = json.loads(sys.argv[1])
    run_script(spec)
    heavy = set(spec.get("heavy", ()))
    print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in heavy)))
