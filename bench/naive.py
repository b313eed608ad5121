"""The naive baseline: per model, `HfApi.model_info` then `ModelCard.load`, on 4 threads.

What a first script against the Hub looks like: no listing with `expand`, no README cache by sha,
no rate limiter. huggingface_hub reads HF_ENDPOINT and HF_HOME when imported, so the caller sets
them in the environment (the replica's URL, and an empty folder so ModelCard.load starts cold).
Nothing from hfharvest is imported: its client factory would pace this client too.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from huggingface_hub import HfApi, ModelCard


def harvest(model_ids: list[str], threads: int = 4) -> Counter:
    """Fetch every model's info and card; returns how many ended how."""
    api = HfApi()

    def one(model_id: str) -> str:
        try:
            api.model_info(model_id)
        except Exception as err:
            return f"no info ({type(err).__name__})"
        try:
            ModelCard.load(model_id)
        except Exception as err:
            return f"info, no card ({type(err).__name__})"
        return "info and card"

    with ThreadPoolExecutor(max_workers=threads) as pool:
        return Counter(pool.map(one, model_ids))
