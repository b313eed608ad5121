"""Run the real workflow with `python -m snakemake` in a scratch copy of the project."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from card_helpers import card_store, inline

from hfharvest.jsonio import read_json

REPO = Path(__file__).resolve().parents[1]
WORKFLOW_PARTS = [
    "Snakefile",
    "rules",
    "scripts",
    "schemas",
    "profiles",
    "config",
    "environment.yml",
]
RULE_LINE = re.compile(r"^(?:local)?rule (\w+):", re.MULTILINE)


def copy_workflow(root: Path) -> None:
    """The workflow's files (not its data, logs or venv) into `root`."""
    root.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part)
        else:
            shutil.copy(source, root / part)


class Workflow:
    def __init__(self, root: Path):
        self.root = root
        copy_workflow(root)

    def run(self, config: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        (self.root / "test_config.yaml").write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "snakemake", "--configfile", "test_config.yaml",
                   "--cores", "2", *args]  # fmt: skip
        result = subprocess.run(command, cwd=self.root, capture_output=True, text=True, timeout=900)
        if check and result.returncode != 0:
            raise AssertionError(
                f"snakemake failed ({result.returncode}):\n{result.stderr[-5000:]}"
            )
        return result

    def run_folder(self, config: dict) -> Path:
        return self.root / config.get("data_root", "data") / "1_raw" / "hf" / config["run_id"]

    def artifact(self, config: dict, name: str) -> dict:
        return read_json(self.run_folder(config) / name)  # a `.gz` one decompressed

    def card(self, config: dict, record: dict) -> str | None:
        """The record's README text, read from the data root's card store by `card_sha256`."""
        data_root = self.root / config.get("data_root", "data")
        return inline([record], card_store(data_root))[0]["card"]


def rules_run(result: subprocess.CompletedProcess) -> set[str]:
    return set(RULE_LINE.findall(result.stderr + result.stdout)) - {"all"}
