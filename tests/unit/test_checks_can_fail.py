"""The checks in the pages are real: a broken formula makes them fail."""

import math

import nbformat
import pytest
import torch
import torch.nn.functional as F


def _cells(path: str) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def _cell_with(sources: list[str], text: str) -> str:
    return next(s for s in sources if text in s)


@pytest.mark.parametrize("broken", [False, True])
def test_attention_check_fails_without_the_sqrt_dk_scaling(broken):
    sources = _cells("chapters/02_self_attention.ipynb")
    definition = _cell_with(sources, "def attention(")
    check = _cell_with(sources, "scaled_dot_product_attention(q, k, v))")
    if broken:
        assert "/ math.sqrt(q.size(-1))" in definition
        definition = definition.replace("/ math.sqrt(q.size(-1))", "")
    namespace = {"math": math, "torch": torch, "F": F}
    exec(definition, namespace)
    if broken:
        with pytest.raises(AssertionError):
            exec(check, namespace)
    else:
        exec(check, namespace)
