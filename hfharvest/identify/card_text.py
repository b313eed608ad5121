"""Base models and training datasets a card states in the fixed sentences of the Hub's tools.

Only these sentences count, and only a link (or bare URL) to `huggingface.co/<id>` placed
where the sentence names the model; a link anywhere else in a card is not a base model.
Wording, from the tools' card templates:

- transformers' Trainer: "This model is a fine-tuned version of [X](https://huggingface.co/X)
  on the Y dataset." (or "on the A, the B and the C datasets."; "on an unknown dataset." and
  "on the None dataset." name none). TRL links the dataset: "on the [D](.../datasets/D)
  dataset". A PEFT adapter's card (`library_name: peft`) uses the same sentence: relation
  `adapter`. Cards written by hand reuse "is a fine-tuned version of [X](...)".
- huggingface_hub's default template: "**Finetuned from model [optional]:** [X](...)".
- sentence-transformers: "This is a [sentence-transformers](https://www.SBERT.net) model
  finetuned from [X](...) on the [D](.../datasets/D) dataset.", "**Base model:** [X](...)".
- mergekit: "merged using the M merge method using [X](...) as a base." and "The following
  models were included in the merge:" followed by a bullet list of links (relation `merge`;
  bullets that are local paths are skipped).
- quantizations: "quantized version of [X](...)", TheBloke's "This repo contains GGUF format
  model files for [X](...)" (also GPTQ, AWQ; his early "GPTQ 4bit model for [X](...)" and
  "4bit GPTQ format quantised models of [X](...)") and
  "Original model: [X](...)", mradermacher's
  "static quants of https://huggingface.co/X", bartowski's "Original model:
  https://huggingface.co/X" (relation `quantized`; "Original model:" in a card that never
  speaks of quantisation is a plain `base_model`).

Every id is checked against the Hub's grammar (hfharvest.ids); a URL with more than two path
segments (a local path pasted into a template: `/content/drive/...`) is not a model id.
Whether these finds are used at all is decided by the callers: only when the metadata names
none of that kind, so card text never overrides metadata.
"""

from __future__ import annotations

import functools
import re

from ..ids import NON_MODEL_PREFIXES, InvalidModelId, validate_model_id
from ..lineage import ADAPTER, PLAIN
from ._fields import card_data, card_text, model_id, tags
from .gate import Gated

# A model reference: a Markdown link to a Hub page, or the bare URL.
_HUB_URL = r"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/[^\s()\[\]<>\"'`+]+"
_REF = rf"(?:\[[^\]\n]{{0,300}}\]\((?P<link>{_HUB_URL})\)|(?P<bare>{_HUB_URL}))"
_REF_ONLY = re.compile(rf"\s*{_REF}\s*")
_ANY_REF = _REF.replace("?P<link>", "?:").replace("?P<bare>", "?:")  # to repeat it


def _sentence(prefix: str, *words: str) -> Gated:
    """The sentence's pattern, run on cards that hold one of `words` (lower case: the words
    every match contains)."""
    return Gated(re.compile(prefix + r"\s*" + _REF, re.I), *words)


# (pattern, relation) of the sentences tools write; `finetune` becomes `adapter` on a PEFT card.
_TOOL_SENTENCES = [
    (_sentence(r"\bThis model is a fine-tuned version of", "fine-tuned version of"), "finetune"),
    (_sentence(r"\bmodel fine-?tuned from", "tuned from"), "finetune"),
    (_sentence(r"\bquantized version of", "quantized version of"), "quantized"),
    # TheBloke's: "GGUF format model files for [X]"; his early ones "GPTQ 4bit model for [X]",
    # "4bit GPTQ format quantised models of [X]"
    (
        _sentence(
            r"\b(?:GGUF|GPTQ|AWQ|GGML|EXL2)(?: format| \d+-?bit)?(?: quanti[sz]ed)?"
            r" models?(?: files)? (?:for|of)",
            *("gguf", "gptq", "awq", "ggml", "exl2"),
        ),
        "quantized",
    ),
    (_sentence(r"\b(?:static|weighted/imatrix|imatrix) quants of", " quants of"), "quantized"),
]
_ORIGINAL_MODEL = _sentence(r"\bOriginal model:\**", "original model:")
# Read only when no tool sentence names a base, as people fill these in with a grandparent (the
# SFT model's own base) next to the Trainer's sentence that names the parent: the template
# fields of huggingface_hub and sentence-transformers, then prose echoing the Trainer ("Zephyr
# is a fine-tuned version of [X]").
_TEMPLATE_FIELDS = [
    _sentence(r"\*\*Finetuned from model(?: \[optional\])?:\*\*", "**finetuned from model"),
    _sentence(r"\*\*Base model:\*\*", "**base model:**"),
]
_PROSE = _sentence(r"\bis a fine-?tuned version of", "tuned version of")
# A prose sentence's subject: what precedes "is a fine-tuned version of" in its sentence.
_SENTENCE_END = re.compile(r"\n|[.!?]\s")
_MAX_SUBJECT = 300
_RELATIVE = re.compile(r"\b(?:which|that|who)\s*$", re.I)
_MERGE_BASE = Gated(
    re.compile(
        rf"\bmerge method using\s+(?P<refs>{_ANY_REF}(?:\s*\+\s*{_ANY_REF})*)\s+as a base", re.I
    ),
    "merge method using",
)
_MERGED_LIST = Gated(
    re.compile(r"The following models were included in the merge:\s*\n", re.I),
    "the following models were included in the merge:",
)
_BULLET = re.compile(r"[ \t]*[*+-][ \t]+(?P<item>[^\n]*)")
# quantized, quantised, quantization, quants
_QUANTISATION = Gated(re.compile(r"\bquant", re.I), "quant")
_ADAPTER = {"finetune": ADAPTER}  # a PEFT card's fine-tune is an adapter
# Trainer: "... fine-tuned version of [X](...) on the Y dataset." (same line). The list as the
# Trainer writes it: "the A dataset", "the A, the B and the C datasets"; TRL and
# sentence-transformers link each name. A name is the dataset id, then perhaps its config (the
# example scripts write "the wmt16 ro-en dataset"). A list with any other item is prose ("on
# the Common Voice 11.0 dataset") and is not read; "on the following datasets:" never matches.
_TRAINER_DATASETS = Gated(
    re.compile(
        rf"(?P<trainer>This model is a )?(?:fine-?tuned version of|model fine-?tuned from)\s*"
        rf"{_REF}\s+on (?P<datasets>the [^\n]{{1,1000}}?) datasets?\."
    ),
    *("tuned version of", "tuned from"),
)
_LIST_SEPARATOR = re.compile(r",? and |, ")
_WORD = r"[^\s,\[\]()]+"
_DATASET_ITEM = re.compile(
    rf"(?:the )?(?P<name>\[[^\]\n]{{0,300}}\]\([^()\s]+\)|{_WORD}(?: {_WORD})?)"
)
_DATASET_LINK = re.compile(r"\[[^\]\n]*\]\((?P<url>[^()\s]+)\)")
# Names the Trainer writes when it knows no dataset, and the `datasets` library's generic
# loaders (`load_dataset("json", ...)`): no dataset of the Hub. An unlinked name must also be
# a namespaced id (`org/name`) or lower case, as the Hub's un-namespaced (canonical) dataset
# ids are (`imdb`, `squad_v2`): `SQuAD` or `Cifar100` are names, not ids.
NOT_DATASETS = frozenset(
    {
        *("none", "unknown", "custom", "generator", "arrow", "audiofolder", "cache", "csv"),
        *("imagefolder", "json", "pandas", "parquet", "spark", "sql", "text", "videofolder"),
        *("webdataset", "xml", "dataset", "data"),
        # prose a hand-written sentence puts where the Trainer puts a name ("on the above
        # dataset", "on the same dataset")
        *("above", "same", "following", "aforementioned", "mentioned", "described", "previous"),
        *("given", "provided", "own", "new", "original", "full", "whole", "entire"),
    }
)
# A name's second word is read as its config ("the wmt16 ro-en dataset") only when one of the
# two looks like what the example scripts write: an id with a digit, `_`, `-` or `/`
# (`librispeech_asr clean`), or a config with a digit, `_`, `-` or `.` (`ro-en`, `3.0.0`) or of
# two letters (`common_voice tr`). Else two words are prose ("the above described dataset",
# "the evidence types dataset"), not a dataset and its config.
_ID_LIKE = re.compile(r"[^\s]*[\d_/-][^\s]*")
_CONFIG_LIKE = re.compile(r"[^\s]*[\d._-][^\s]*|[a-z]{2}")
# The heading may carry an emoji or other marks before its words ("# ✨ Original model card").
# Both runs bounded: `#` is also a mark, so `#+[^\w\n]*` split a line of 40 000 `#` in 800
# million ways (15 s; a 1 MB one took hours). Markdown headings have at most six.
_ORIGINAL_CARD = re.compile(
    r"^(?:<!-- original-model-card start -->|#{1,6}[^\w\n]{0,40}Original model card\b)",
    re.I | re.M,
)
_LOCAL_DATASET_NAMES = "llama-factory"
# `user2_train`, `gsm8k_sft_train`: a local split file the trainer was given, not a Hub dataset.
_SPLIT_FILE = re.compile(r"(?:^|[_-])(?:train|test|dev|val|valid|validation)(?:$|[_-])")
# The Trainer saves to `<output_dir>/checkpoint-<step>`; a model trained on from there gets that
# local path in its sentence (`[outputDA/checkpoint-7710](https://huggingface.co/outputDA/...)`).
_CHECKPOINT_FOLDER = re.compile(r"(?:^|/)checkpoint-\d+$")
_FRONT_MATTER = re.compile(r"\A\s*---\s*\n.*?\n---\s*\n", re.S)


def stated_base_models(record: dict) -> dict[str, str]:
    """{base id as written: relation} for the bases the card's text states: the tools'
    sentences, or else the template fields, or else prose."""
    text = _body(record)
    found = dict(_tool_sentences(text))  # a copy: the cached answer is shared
    for fallback in (_TEMPLATE_FIELDS, [_PROSE]):
        if not found:
            for match in (match for pattern in fallback for match in pattern.finditer(text)):
                if fallback is _TEMPLATE_FIELDS or _about_the_card(text, match):
                    _add(found, _model_id(match), "finetune")
    if library_name(record) == "peft":
        found = {model: _ADAPTER.get(relation, relation) for model, relation in found.items()}
    return found


# The base-model and keyword identifiers both ask this of the same card, one after the other,
# in the identify job's one pass over the models: the card is scanned once.
@functools.lru_cache(maxsize=2)
def _tool_sentences(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for pattern, relation in _TOOL_SENTENCES:
        for match in pattern.finditer(text):
            _add(found, _model_id(match), relation)
    for match in _MERGE_BASE.finditer(text):
        for ref in re.finditer(_REF, match["refs"]):
            _add(found, _model_id(ref), "merge")
    for model in _merged_models(text):
        _add(found, model, "merge")
    original = "quantized" if _QUANTISATION.search(text) else PLAIN
    for match in _ORIGINAL_MODEL.finditer(text):
        _add(found, _model_id(match), original)
    return found


def stated_datasets(record: dict) -> list[str]:
    """Dataset ids the card's text names in the "fine-tuned version of [X](...) on the Y
    dataset" sentence. A linked dataset (`[D](https://huggingface.co/datasets/D)`) counts in
    any such sentence; a bare name only in the Trainer's own ("This model is a fine-tuned
    version of"): hand-written variants say "on the English dataset"."""
    found = set()
    # LLaMA-Factory names the datasets of its own dataset_info.json ("the identity and the
    # alpaca_en_demo datasets"), not Hub ids: only its linked datasets count.
    local_names = _LOCAL_DATASET_NAMES in tags(record)
    vouched = _vouched_for(record)
    for match in _TRAINER_DATASETS.finditer(_body(record)):
        names_allowed = _is_trainer_sentence(match) and not local_names
        items = [_DATASET_ITEM.fullmatch(item) for item in _LIST_SEPARATOR.split(match["datasets"])]
        if all(items):
            found |= {d for item in items if (d := _dataset_id(item, names_allowed, vouched))}
    return sorted(found)


def _vouched_for(record: dict) -> tuple[str, set[str]]:
    """(the model's own account, the dataset ids and names of the card's model-index): what
    makes an unlinked `org/name` a Hub id rather than prose ("the CNN/Dailymail dataset"). The
    Trainer writes the id it was given into the model-index, and people train on their own."""
    entries = card_data(record).get("model-index")
    results = [
        result
        for entry in (entries if isinstance(entries, list) else [])
        if isinstance(entry, dict) and isinstance(entry.get("results"), list)
        for result in entry["results"]
    ]
    datasets = [r.get("dataset") for r in results if isinstance(r, dict)]
    named = {
        value
        for dataset in datasets
        if isinstance(dataset, dict)
        for value in (dataset.get("type"), dataset.get("name"))
        if isinstance(value, str)
    }
    return (model_id(record) or "").partition("/")[0], named


def _about_the_card(text: str, match: re.Match) -> bool:
    """Whether the prose sentence is the card's about its own model ("This model is a
    fine-tuned version of", "Piiranha is ..."), not about a model it links ("[X](...) is a
    fine-tuned version of", "... [X](...) which is a fine-tuned version of")."""
    subject = _SENTENCE_END.split(text[max(0, match.start() - _MAX_SUBJECT) : match.start()])[-1]
    return "](" not in subject and "://" not in subject and not _RELATIVE.search(subject)


def _is_trainer_sentence(match: re.Match) -> bool:
    return match["trainer"] is not None and match[0].startswith("This model is a fine-tuned")


def _body(record: dict) -> str:
    """The card's Markdown, without its YAML front matter (the metadata is read elsewhere) and
    without the copy of the original model's card that quantisers append (its sentences are
    about the original model: "# Original model card: ...")."""
    text = _FRONT_MATTER.sub("", card_text(record), count=1)
    copied = _ORIGINAL_CARD.search(text)
    return text[: copied.start()] if copied else text


def _add(found: dict[str, str], model: str | None, relation: str) -> None:
    if model and found.get(model, PLAIN) == PLAIN:
        found[model] = relation


def library_name(record: dict) -> str:
    value = record.get("library_name") if isinstance(record, dict) else None
    value = value if isinstance(value, str) else card_data(record).get("library_name")
    return value.strip().lower() if isinstance(value, str) else ""


def _merged_models(text: str) -> list[str]:
    """The links of the bullet list right after "The following models were included...".
    Blank lines may separate the bullets; the first other line ends the list."""
    models = []
    for heading in _MERGED_LIST.finditer(text):
        for line in text[heading.end() :].split("\n"):
            if not line.strip():
                continue
            bullet = _BULLET.fullmatch(line)
            if bullet is None:
                break
            if ref := _REF_ONLY.fullmatch(bullet["item"]):
                models.append(_model_id(ref))
    return [model for model in models if model]


def _model_id(match: re.Match) -> str | None:
    model = _hub_id(match["link"] or match["bare"])
    return None if model and _CHECKPOINT_FOLDER.search(model) else model


def _hub_id(url: str, prefix: str = "") -> str | None:
    """The repo id of a Hub URL whose path is exactly `/<prefix><name>` or `/<prefix><org>/<name>`
    (`prefix` is `datasets/` for datasets), checked against the Hub's grammar; else None."""
    match = re.match(
        rf"https?://(?:www\.)?(?:huggingface\.co|hf\.co)/{prefix}(?P<path>[^?#]+)", url
    )
    path = match["path"].rstrip("/") if match else ""
    segments = path.split("/")
    if not path or len(segments) > 2 or segments[0] in NON_MODEL_PREFIXES | {"None"}:
        return None  # `[None](https://huggingface.co/None)`: TRL's card when it knew no base
    try:
        return validate_model_id(path)  # dataset ids follow the same grammar
    except InvalidModelId:
        return None


def _dataset_id(
    item: re.Match, names_allowed: bool, vouched: tuple[str, set[str]] = ("", set())
) -> str | None:
    """One "the Y" of the sentence's dataset list as a Hub dataset id, or None."""
    name = item["name"]
    if link := _DATASET_LINK.fullmatch(name):
        return _hub_id(link["url"], prefix="datasets/")
    name, _, config = name.partition(" ")
    if config and not (_ID_LIKE.fullmatch(name) or _CONFIG_LIKE.fullmatch(config)):
        return None
    if not names_allowed or name.lower() in NOT_DATASETS:
        return None
    if "/" not in name and (name != name.lower() or _SPLIT_FILE.search(name)):
        return None
    own_account, named = vouched
    if "/" in name and name.partition("/")[0] != own_account and name not in named:
        return None
    try:
        return validate_model_id(name)  # dataset ids follow the same grammar as model ids
    except InvalidModelId:
        return None
