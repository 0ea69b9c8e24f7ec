"""Model loading: the packaged offline models, and a clear error for the Hub without a network."""

import time

import pytest
import torch

from llmcourse import models
from llmcourse.errors import CourseError
from llmcourse.profile import PROFILES

SMOKE, FULL = PROFILES["smoke"], PROFILES["full"]


def test_packaged_encoder_and_tokenizer_load_offline():
    tokenizer = models.load_tokenizer(SMOKE)
    assert tokenizer("Hello world!")["input_ids"] == [101, 7592, 2088, 999, 102]  # bert-base-uncased ids
    model = models.load_encoder(SMOKE)
    assert (model.config.num_hidden_layers, model.config.hidden_size) == (6, 384)
    assert not model.training


def test_packaged_causal_lm_answers():
    tokenizer, model = models.load_causal_lm(SMOKE)
    assert sum(p.numel() for p in model.parameters()) == 134_515_008
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    inputs = tokenizer.apply_chat_template(messages, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, inputs["input_ids"].shape[1]:])


def test_full_profile_without_hub_fails_fast(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    start = time.perf_counter()
    with pytest.raises(CourseError, match="LLMCOURSE_PROFILE=smoke"):
        models.load_encoder(FULL)
    with pytest.raises(CourseError, match="Hub"):
        models.load_causal_lm(FULL)
    assert time.perf_counter() - start < 5


def test_missing_model_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(models.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(CourseError, match="requirements-models.txt"):
        models.encoder_source(SMOKE)
