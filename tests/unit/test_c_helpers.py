"""Helpers for the bias and privacy pages: stratified sampling and the GPT-2 tokenizer."""

import pandas as pd
import pytest

from llmcourse import data, models
from llmcourse.errors import CourseError


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"group": ["a"] * 60 + ["b"] * 30 + ["c"] * 10, "value": range(100)})


def test_stratified_sample_allocates_in_proportion_with_largest_remainders():
    frame = _frame()
    picked = data.stratified_sample(frame, 17, "group")
    # shares 10.2, 5.1, 1.7: floors 10, 5, 1, and the one leftover row goes to the largest remainder (c)
    assert picked["group"].value_counts().to_dict() == {"a": 10, "b": 5, "c": 2}
    assert picked.index.is_monotonic_increasing and picked.index.isin(frame.index).all()
    assert not picked.index.duplicated().any()


def test_stratified_sample_is_repeatable_and_returns_the_frame_when_not_smaller():
    frame = _frame()
    assert data.stratified_sample(frame, 20, "group", seed=3).equals(data.stratified_sample(frame, 20, "group", seed=3))
    assert data.stratified_sample(frame, None, "group") is frame
    assert data.stratified_sample(frame, 100, "group") is frame


def test_stratified_sample_by_two_columns_keeps_every_cell():
    frame = _frame().assign(kind=["x", "y"] * 50)
    picked = data.stratified_sample(frame, 10, ["group", "kind"])
    assert len(picked) == 10
    assert set(map(tuple, picked[["group", "kind"]].to_numpy())) >= {("a", "x"), ("a", "y"), ("b", "x"), ("b", "y")}


def test_gpt2_tokenizer_without_data_or_hub_fails_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CourseError, match="Fix: set LLMCOURSE_DATA"):
        models.load_gpt2_tokenizer()


@pytest.mark.skipif(data.data_dir() is None or not (data.data_dir() / "tokenizers" / "gpt2").is_dir(),
                    reason="needs the course data folder's GPT-2 tokenizer")
def test_gpt2_tokenizer_from_the_data_folder_spells_digits_one_token_each():
    tokenizer = models.load_gpt2_tokenizer()
    assert len(tokenizer) == 50257
    assert len(tokenizer(" 4 0 8 1 7")["input_ids"]) == 5
