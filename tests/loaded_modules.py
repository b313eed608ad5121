"""Which hfharvest modules a fresh interpreter loads for an import, and which of them a cache
key's code digest does not cover: an edit of such a module would serve stale entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def loaded_modules(imports: str) -> list[tuple[str, str]]:
    """(name, file) of every hfharvest module loaded by `import <imports>` in a new process."""
    code = (
        f"import sys, {imports}\n"
        "print('\\n'.join(f'{n} {m.__file__}' for n, m in sys.modules.items()"
        " if n.split('.')[0] == 'hfharvest'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [tuple(line.split(" ", 1)) for line in out.stdout.split("\n") if line]


def uncovered(loaded: list[tuple[str, str]], code: tuple[str, ...], plumbing: set[str]) -> list:
    """The loaded modules neither under a path of `code` (relative to the package) nor named
    in `plumbing` (modules that do not shape the cached content)."""
    package = Path(__import__("hfharvest").__file__).parent
    covered = [package / name for name in code]
    return [
        name
        for name, path in loaded
        if name not in plumbing and not any(Path(path).is_relative_to(c) for c in covered)
    ]
