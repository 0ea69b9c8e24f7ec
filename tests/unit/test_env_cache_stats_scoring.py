"""Seeding, the cache, the interval estimates and batched log-likelihood scoring."""

import numpy as np
import pytest
import torch

from llmcourse.cache import cache_key, cached_dir
from llmcourse.env import report, seed_everything
from llmcourse.models import load_causal_lm
from llmcourse.profile import PROFILES
from llmcourse.scoring import pad_right, sentence_logprob, token_logprobs
from llmcourse.stats import bootstrap_interval, wilson_interval


def test_seeding_repeats_random_draws():
    seed_everything(3)
    first = (np.random.rand(), torch.rand(1).item())
    seed_everything(3)
    assert (np.random.rand(), torch.rand(1).item()) == first


def test_report_is_one_line_naming_versions():
    line = report()
    assert "\n" not in line and "torch" in line and "profile=" in line


def test_cache_builds_once_per_config(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path))
    calls = []

    def build(folder):
        calls.append(folder)
        (folder / "x.txt").write_text("1")

    a = cached_dir("thing", {"n": 1}, build)
    b = cached_dir("thing", {"n": 1}, build)
    c = cached_dir("thing", {"n": 2}, build)
    assert a == b != c and len(calls) == 2 and (a / "x.txt").read_text() == "1"
    assert cache_key("thing", {"n": 1}) != cache_key("thing", {"n": 2})


def test_cache_failed_build_leaves_nothing_marked_complete(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path))

    def broken(folder):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        cached_dir("thing", {}, broken)
    assert not list(tmp_path.glob("thing-*/.complete"))


def test_wilson_interval_known_value_and_edges():
    low, high = wilson_interval(50, 100)
    assert low == pytest.approx(0.4038, abs=1e-3) and high == pytest.approx(0.5962, abs=1e-3)
    assert wilson_interval(0, 10)[0] == pytest.approx(0.0, abs=1e-12) and wilson_interval(10, 10)[1] <= 1.0
    with pytest.raises(ValueError):
        wilson_interval(1, 0)


def test_bootstrap_interval_covers_the_mean():
    values = np.random.default_rng(0).normal(5.0, 1.0, 400)
    low, high = bootstrap_interval(values)
    assert low < values.mean() < high and high - low < 0.5


def test_batched_scoring_equals_one_at_a_time_and_the_model_loss():
    tokenizer, model = load_causal_lm(PROFILES["smoke"])
    texts = ["The cat sat on the mat.", "Stocks rallied on Friday after strong earnings reports.", "Hi"]
    batched = sentence_logprob(model, tokenizer, texts, batch_size=3)
    single = torch.stack([sentence_logprob(model, tokenizer, [t], batch_size=1)[0] for t in texts])
    torch.testing.assert_close(batched, single, atol=2e-3, rtol=1e-4)
    ids = tokenizer(tokenizer.bos_token + texts[1], return_tensors="pt", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    per_token = token_logprobs(model, tokenizer, [texts[1]])[0]
    assert len(per_token) == ids.shape[1] - 1
    torch.testing.assert_close(per_token.mean(), -loss, atol=1e-4, rtol=1e-4)


def test_the_start_token_can_be_chosen():
    tokenizer, model = load_causal_lm(PROFILES["smoke"])
    text = "The cat sat on the mat."
    document = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    ids = tokenizer("<|endoftext|>" + text, return_tensors="pt", add_special_tokens=False)["input_ids"]
    assert ids[0, 0] == document != tokenizer.bos_token_id
    with torch.no_grad():
        loss = model(input_ids=ids, labels=ids).loss
    per_token = token_logprobs(model, tokenizer, [text], start_id=document)[0]
    torch.testing.assert_close(per_token.mean(), -loss, atol=1e-4, rtol=1e-4)
    assert not torch.allclose(per_token.sum(), sentence_logprob(model, tokenizer, [text])[0])  # BOS differs


def test_report_hides_loading_bars_but_keeps_errors():
    import datasets
    import transformers

    from llmcourse.env import report

    transformers.utils.logging.enable_progress_bar()
    report()
    assert not transformers.utils.logging.is_progress_bar_enabled()
    assert transformers.utils.logging.get_verbosity() == transformers.logging.ERROR
    assert not datasets.is_progress_bar_enabled()


def test_pad_right_pads_and_masks_each_row_after_its_tokens():
    ids, mask = pad_right([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
