"""The lab's training code (llmcourse.finetune) on a tiny random BERT: arguments, padding, prediction, caching."""

from __future__ import annotations

import dataclasses
import json

import datasets
import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

import llmcourse.finetune as ft
from llmcourse.errors import CourseError
from llmcourse.profile import get_profile

TEXTS = [
    "Stocks rallied on Wall Street after the central bank held rates.",
    "The striker scored twice as the home side won the cup final.",
    "Rebels and the government agreed to a ceasefire in the capital.",
    "A new chip promises faster phones and longer battery life for everyone who buys one this year.",
    "Oil prices fell.",
    "Scientists released the genome of a common crop plant.",
]
LABELS = [2, 1, 0, 3, 2, 3]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    """A tiny random BERT with the course tokenizer."""
    return str(ft.make_tiny_model(tmp_path_factory.mktemp("tiny")))


@pytest.fixture(scope="module")
def toy() -> datasets.Dataset:
    """A few labelled rows in the AG News layout."""
    return datasets.Dataset.from_dict({"text": TEXTS * 4, "label": LABELS * 4})


def test_config_for_reads_the_profile():
    smoke = get_profile("smoke")
    config = ft.config_for(smoke)
    assert (config.model, config.batch_size, config.learning_rate, config.max_length, config.epochs) == (
        smoke.encoder, smoke.batch_size, smoke.learning_rate, smoke.max_length, smoke.epochs)
    assert config.dynamic_padding and config.group_by_length


def test_baseline_config_pads_every_row_without_grouping_in_float32():
    baseline = ft.baseline_config(ft.FinetuneConfig(model="m", fp16=True))
    assert not (baseline.dynamic_padding or baseline.group_by_length or baseline.fp16 or baseline.bf16)
    assert baseline.precision == "float32"
    assert ft.FinetuneConfig(model="m", bf16=True).precision == "bf16"
    assert baseline.model == "m"


def test_supported_range_is_ordered_and_checked():
    assert ft.in_supported_range(ft.OLDEST_TRANSFORMERS) and ft.in_supported_range(ft.NEWEST_TRANSFORMERS)
    assert not ft.in_supported_range("4.57.0")
    newer = ft.NEWEST_TRANSFORMERS.split(".")
    assert not ft.in_supported_range(".".join([newer[0], str(int(newer[1]) + 1), "0"]))


def test_training_arguments_use_the_current_names(tmp_path):
    config = ft.config_for(get_profile("smoke"))
    args = ft.training_arguments(config, tmp_path)
    assert args.eval_strategy == "no"
    assert args.get_warmup_steps(100) == 10  # warmup_steps=0.1 is a fraction of the steps
    assert args.average_tokens_across_devices is False
    assert args.train_sampling_strategy == "group_by_length"
    baseline_args = ft.training_arguments(ft.baseline_config(config), tmp_path)
    assert baseline_args.train_sampling_strategy == "random"


def test_length_grouping_falls_back_on_releases_without_train_sampling_strategy(monkeypatch):
    monkeypatch.setattr(ft, "argument_names", lambda: {"group_by_length", "output_dir"})
    assert ft.length_grouping_argument(True) == {"group_by_length": True}
    assert ft.distributed_arguments() == {}


def test_distributed_arguments_choose_gloo_on_cpu_under_torchrun(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    got = ft.distributed_arguments()
    assert got["ddp_backend"] == "gloo" and got["ddp_find_unused_parameters"] is False


def test_tokenize_pads_only_when_asked(tiny, toy):
    tok = ft.load_tokenizer(tiny)
    dynamic = ft.tokenize(toy, tok, max_length=16)
    static = ft.tokenize(toy, tok, max_length=16, pad_to_max_length=True)
    assert "text" not in dynamic.column_names
    assert {len(ids) for ids in static["input_ids"]} == {16}
    assert [len(ids) for ids in dynamic["input_ids"]] == dynamic["length"] == static["length"]
    assert max(dynamic["length"]) == 16 and min(dynamic["length"]) < 16  # truncated, and not padded


def test_collator_pads_each_batch_to_its_longest_row(tiny, toy, monkeypatch):
    tok = ft.load_tokenizer(tiny)
    rows = ft.tokenize(toy, tok, max_length=64).remove_columns("length")
    longest = max(len(rows[i]["input_ids"]) for i in range(3))
    assert longest % 8, "pick rows whose longest is not already a multiple of 8"
    batch = ft.collator(tok, ft.FinetuneConfig(model=tiny))([rows[i] for i in range(3)])
    assert batch["input_ids"].shape[1] == longest
    assert batch["attention_mask"].sum().item() == sum(len(rows[i]["input_ids"]) for i in range(3))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # bf16 on a CPU: no tensor cores to feed
    cpu_bf16 = ft.collator(tok, ft.FinetuneConfig(model=tiny, bf16=True))([rows[i] for i in range(3)])
    assert cpu_bf16["input_ids"].shape[1] == longest
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    eight = ft.collator(tok, ft.FinetuneConfig(model=tiny, fp16=True))([rows[i] for i in range(3)])
    assert eight["input_ids"].shape[1] == -(-longest // 8) * 8


def test_predict_logits_keeps_the_order_and_matches_rows_one_at_a_time(tiny):
    tok = ft.load_tokenizer(tiny)
    model = ft.load_model(tiny).eval()
    batched = ft.predict_logits(model, tok, TEXTS, batch_size=4, max_length=32)
    with torch.no_grad():
        single = torch.cat([model(**tok(t, truncation=True, max_length=32, return_tensors="pt")).logits
                            for t in TEXTS])
    assert batched.shape == (len(TEXTS), 4) and batched.dtype == np.float32
    torch.testing.assert_close(torch.from_numpy(batched), single, atol=1e-5, rtol=1e-4)


def test_save_load_round_trip_gives_identical_logits_and_tokens(tiny, tmp_path):
    tok = ft.load_tokenizer(tiny)
    model = ft.load_model(tiny).eval()
    model.save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model2 = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    tok2 = AutoTokenizer.from_pretrained(tmp_path)
    assert tok2(TEXTS)["input_ids"] == tok(TEXTS)["input_ids"]
    assert model2.config.id2label[3] == "Sci/Tech"
    a = ft.predict_logits(model, tok, TEXTS)
    b = ft.predict_logits(model2, tok2, TEXTS)
    assert np.array_equal(a, b)


@pytest.mark.parametrize("bf16", [False, True], ids=["float32", "bf16 autocast"])
def test_train_classifier_writes_the_folder_other_pages_load(tiny, toy, tmp_path, bf16):
    """The saved logits are float32 predictions of the saved model, also after bf16 mixed-precision training."""
    config = dataclasses.replace(ft.FinetuneConfig(model=tiny, bf16=bf16), max_steps=3, batch_size=4,
                                 eval_batch_size=5)
    metrics = ft.train_classifier(config, toy, toy.select(range(7)), tmp_path)
    assert metrics["steps"] == 3 and metrics["test_rows"] == 7
    logits = np.load(tmp_path / ft.LOGITS_FILE)
    assert logits.shape == (7, 4) and logits.dtype == np.float32
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path).eval()
    tok = AutoTokenizer.from_pretrained(tmp_path)
    np.testing.assert_allclose(ft.predict_logits(model, tok, toy["text"][:7]), logits, atol=1e-5)
    assert json.loads((tmp_path / ft.METRICS_FILE).read_text())["accuracy"] == metrics["accuracy"]


def test_fine_tuned_classifier_trains_once_per_configuration(monkeypatch, tmp_path, toy):
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path))
    monkeypatch.setattr(ft, "load_ag_news", lambda profile: datasets.DatasetDict(train=toy, test=toy))
    calls = []

    def fake_train(config, train, test, folder):
        calls.append(config)
        np.save(folder / ft.LOGITS_FILE, np.zeros((len(test), 4), np.float32))
        return {}

    monkeypatch.setattr(ft, "train_classifier", fake_train)
    smoke = get_profile("smoke")
    assert not ft.is_cached(smoke)
    first = ft.fine_tuned_classifier(smoke)
    again = ft.fine_tuned_classifier(smoke)
    assert first == again and len(calls) == 1 and ft.is_cached(smoke)
    other = ft.fine_tuned_classifier(smoke.with_overrides(learning_rate=5e-5))
    assert other != first and len(calls) == 2
    assert ft.cache_config(smoke) != ft.cache_config(get_profile("full"))
    assert np.load(first / ft.LOGITS_FILE).shape == (len(toy), 4)


def test_model_source_fails_with_the_fix_when_the_hub_is_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CourseError, match="Fix"):
        ft.model_source("no-such-org/no-such-model")


def test_classification_metrics():
    got = ft.classification_metrics([0, 1, 2, 3], [0, 1, 2, 2])
    assert got["accuracy"] == 0.75
    assert got["macro_f1"] == pytest.approx((1 + 1 + 2 / 3 + 0) / 4)


def test_format_benchmark_prints_both_configurations_and_the_ratio():
    row = {"samples_per_s": 10.0, "tokens_per_s": 500.0, "tokens_per_sample": 50.0, "padding_share": 0.5,
           "peak_memory_mb": 900.0, "device": "cpu", "precision": "float32", "batch_size": 8, "steps": 3, "rows": 24}
    text = ft.format_benchmark({"baseline": row, "tuned": {**row, "samples_per_s": 20.0}, "ratio_samples": 2.0,
                                "ratio_tokens": 1.0}, "smoke")
    assert "baseline" in text and "tuned" in text and "2.00x samples/s" in text and "cpu float32, batch 8" in text


def test_benchmark_rows_are_length_grouped_batches_the_same_every_time():
    lengths = np.random.default_rng(0).integers(5, 120, size=800)
    batches = ft.benchmark_rows(lengths, batch_size=8, steps=4)
    assert [len(b) for b in batches] == [8] * 4 and len({i for b in batches for i in b}) == 32
    for batch in batches:  # sorted within its megabatch, longest first
        assert list(lengths[batch]) == sorted(lengths[batch], reverse=True)
    assert batches == ft.benchmark_rows(lengths, batch_size=8, steps=4)  # the same rows every time
    with pytest.raises(CourseError, match="Fix"):
        ft.benchmark_rows(lengths, batch_size=8, steps=101)


def test_measure_training_times_one_pass_over_the_same_rows_for_both_configurations(tiny, toy):
    tuned = dataclasses.replace(ft.FinetuneConfig(model=tiny), batch_size=4, max_length=32)
    got = {name: ft.measure_training(config, toy, steps=3, warmup_steps=1)
           for name, config in {"baseline": ft.baseline_config(tuned), "tuned": tuned}.items()}
    for r in got.values():
        assert r["rows"] == 12 and r["steps"] == 3 and r["seconds"] > 0
    assert got["baseline"]["tokens_per_sample"] == got["tuned"]["tokens_per_sample"]  # the same rows
    assert got["tuned"]["padding_share"] < got["baseline"]["padding_share"]


def test_trainer_has_a_text_bar_and_prints_no_log_dicts(tiny, toy, tmp_path, capsys):
    config = dataclasses.replace(ft.FinetuneConfig(model=tiny), max_steps=2, batch_size=4)
    ft.train_classifier(config, toy, toy.select(range(4)), tmp_path)
    captured = capsys.readouterr()
    assert "'loss'" not in captured.out + captured.err and "train_runtime" not in captured.out + captured.err
    assert "training" in captured.err


def test_training_gives_the_same_weights_whatever_the_random_state_before(tiny, toy, tmp_path):
    config = dataclasses.replace(ft.FinetuneConfig(model=tiny), max_steps=2, batch_size=4)
    torch.manual_seed(1)
    ft.train_classifier(config, toy, toy.select(range(6)), tmp_path / "a")
    torch.manual_seed(2)
    _ = torch.rand(10)
    ft.train_classifier(config, toy, toy.select(range(6)), tmp_path / "b")
    assert np.array_equal(np.load(tmp_path / "a" / ft.LOGITS_FILE), np.load(tmp_path / "b" / ft.LOGITS_FILE))
