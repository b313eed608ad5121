import pytest

from hfharvest.ids import (
    MODELS_FILE_MAX_BYTES,
    InvalidModelId,
    ModelsFileError,
    id_from_line,
    parse_models_file,
    validate_model_id,
)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("google-bert/bert-base-uncased", "google-bert/bert-base-uncased"),
        ("gpt2", "gpt2"),
        ("https://huggingface.co/HuggingFaceH4/zephyr-7b-beta", "HuggingFaceH4/zephyr-7b-beta"),
        ("https://huggingface.co/gpt2", "gpt2"),
        ("https://huggingface.co/facebook/bart-base/tree/main", "facebook/bart-base"),
        (
            "https://huggingface.co/openai/clip-vit-base-patch32?library=transformers",
            "openai/clip-vit-base-patch32",
        ),
        ("huggingface.co/google/flan-t5-large", "google/flan-t5-large"),
    ],
)
def test_lines_become_ids(line, expected):
    assert id_from_line(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        "../etc/passwd",
        "/etc/passwd",
        "a/b/c",
        "org/na me",
        "goog1e-bert/bert-base-uncаsed",  # Cyrillic "а"
        "foo--bar",
        "https://huggingface.co/datasets/wikipedia",
        "datasets/wikipedia",  # the same page, written as an id
        "spaces/gradio/hello_world",
        "spaces/hello",
        "https://evil.example.com/google-bert/bert-base-uncased",
        "x" * 97,
    ],
)
def test_invalid_ids_are_rejected(line):
    with pytest.raises(InvalidModelId):
        id_from_line(line)


def test_non_string_id_is_rejected():
    with pytest.raises(InvalidModelId, match="must be a string"):
        validate_model_id(42)


def test_models_file_comments_urls_duplicates_and_bad_lines(tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text(
        "# a comment\n"
        "\n"
        "google-bert/bert-base-uncased\n"
        "   https://huggingface.co/facebook/bart-large-mnli   \n"
        "not a/valid/id\n"
        "gpt2  # legacy id, trailing comment\n"
        "google-bert/bert-base-uncased\n"
    )
    ids, problems = parse_models_file(path)
    assert ids == ["google-bert/bert-base-uncased", "facebook/bart-large-mnli", "gpt2"]
    assert [(p.line, p.text) for p in problems] == [(5, "not a/valid/id")]
    failure = problems[0].as_failure(path)
    assert failure["reason"] == "invalid_id"
    assert f"{path}:5:" in failure["message"]


def test_missing_and_empty_models_files_mean_no_models(tmp_path):
    assert parse_models_file(tmp_path / "absent.txt") == ([], [])
    (tmp_path / "empty.txt").write_text("")
    assert parse_models_file(tmp_path / "empty.txt") == ([], [])


def test_oversized_and_binary_models_files_are_refused_by_name(tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(b"gpt2\n" * (MODELS_FILE_MAX_BYTES // 5 + 1))
    with pytest.raises(ModelsFileError, match="big.txt"):
        parse_models_file(big)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ModelsFileError, match="not UTF-8"):
        parse_models_file(binary)
