"""The cheap checks of the background and privacy pages are real: a broken formula makes them fail."""

import re

import nbformat
import numpy as np
import pandas as pd
import pytest
import torch
from transformers import BertConfig, BertModel, GPT2Config, GPT2LMHeadModel


def _cells(path: str) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _cell_with(sources: list[str], text: str) -> str:
    return next(s for s in sources if text in s)


def _run(cells: list[str], old: str, new: str, broken: bool) -> None:
    """Execute the cells in one namespace, with `old` replaced by `new` when `broken`."""
    if broken:
        assert sum(old in cell for cell in cells) == 1, "the breakage target must occur exactly once"
        cells = [cell.replace(old, new) for cell in cells]
    namespace = {"np": np, "pd": pd, "torch": torch, "re": re, "BertConfig": BertConfig, "BertModel": BertModel,
                 "GPT2Config": GPT2Config, "GPT2LMHeadModel": GPT2LMHeadModel}
    for cell in cells:
        exec(cell, namespace)


@pytest.mark.parametrize("broken", [False, True])
def test_parameter_count_check_fails_when_the_rule_of_thumb_forgets_the_feed_forward(broken):
    sources = _cells("chapters/01_background.ipynb")
    cells = [_cell_with(sources, "def rough_params"), _cell_with(sources, 'with torch.device("meta")')]
    if broken:  # 4d^2 attention + 8d^2 feed-forward per layer; without the feed-forward the rule is 4 L d^2
        with pytest.raises(AssertionError):
            _run(cells, "12 * layers * d * d", "4 * layers * d * d", broken)
    else:
        _run(cells, "", "", broken)


@pytest.mark.parametrize("broken", [False, True])
def test_luhn_check_fails_when_the_wrong_digits_are_doubled(broken):
    cells = [_cell_with(_cells("chapters/08_privacy_security.ipynb"), "def luhn_valid")]
    if broken:
        with pytest.raises(AssertionError):
            _run(cells, "position % 2 == 1", "position % 2 == 0", broken)
    else:
        _run(cells, "", "", broken)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, None),
        ("return gold_spans & predicted, predicted - gold_spans, gold_spans - predicted",
         "return gold_spans & predicted, gold_spans - predicted, predicted - gold_spans"),
        ("reverse=True):\n        text = text[:start]", "reverse=False):\n        text = text[:start]"),
    ],
)
def test_scorer_and_redactor_checks_fail_when_broken(old, new):
    sources = _cells("chapters/08_privacy_security.ipynb")
    cells = [_cell_with(sources, "def luhn_valid"), _cell_with(sources, "FIRST_LISTED = "),
             _cell_with(sources, "PATTERNS = {"), _cell_with(sources, "def match_spans")]
    if old is None:
        _run(cells, "", "", False)
    else:
        with pytest.raises(AssertionError):
            _run(cells, old, new, True)
