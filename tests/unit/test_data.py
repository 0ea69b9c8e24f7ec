"""Data loading: the Hub's layout from the local copy, and fast, clear failures."""

import time

import pytest

from llmcourse import data
from llmcourse.errors import CourseError
from llmcourse.profile import PROFILES

needs_data = pytest.mark.skipif(data.data_dir() is None, reason="LLMCOURSE_DATA is not set")


@needs_data
def test_smoke_ag_news_has_the_hub_layout():
    ds = data.load_ag_news(PROFILES["smoke"])
    assert set(ds) == {"train", "test"}
    assert ds["test"].column_names == ["text", "label"]
    assert ds["test"].features["label"].names == data.AG_NEWS_CLASSES
    assert (len(ds["train"]), len(ds["test"])) == (5000, 7600)
    assert data.split_fingerprint(ds["test"]) == data.AG_NEWS_TEST_SHA256


@needs_data
def test_profile_sizes_give_balanced_subsets():
    ds = data.load_ag_news(PROFILES["smoke"].with_overrides(train_rows=400, test_rows=102))
    assert len(ds["train"]) == 400 and len(ds["test"]) == 102
    counts = {label: ds["test"]["label"].count(label) for label in range(4)}
    assert sorted(counts.values()) == [25, 25, 26, 26]


def test_full_profile_without_hub_fails_fast_naming_both_sources(monkeypatch):
    monkeypatch.delenv("LLMCOURSE_DATA", raising=False)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)  # no shortcut: the real reachability probe runs
    start = time.perf_counter()
    with pytest.raises(CourseError) as error:
        data.load_ag_news(PROFILES["full"])
    assert time.perf_counter() - start < 5
    message = str(error.value)
    assert "LLMCOURSE_DATA" in message and data.AG_NEWS_HUB_ID in message and "Fix" in message


@needs_data
def test_full_profile_reads_the_pinned_hub_revision_and_checks_its_content(monkeypatch):
    import datasets

    local = {"train": "train_sample5000/train_sample5000.parquet", "test": "test.parquet"}
    calls = []

    def hub(path, revision=None):  # the Hub, played by the local copy of the same splits
        calls.append((path, revision))
        files = {k: str(data.data_dir() / "ag_news" / v) for k, v in local.items()}
        return load_parquet("parquet", data_files=files).select_columns(["text", "label"])

    load_parquet = datasets.load_dataset
    monkeypatch.setattr(data, "network_reachable", lambda *a, **k: True)
    monkeypatch.setattr(datasets, "load_dataset", hub)
    ds = data.load_ag_news(PROFILES["full"])
    assert calls == [(data.AG_NEWS_HUB_ID, data.AG_NEWS_HUB_REVISION)] and len(ds["test"]) == 7600
    assert len(data.AG_NEWS_HUB_REVISION) == 40 and int(data.AG_NEWS_HUB_REVISION, 16) >= 0

    local["test"] = "train_sample5000/train_sample5000.parquet"  # other content under the pinned name
    with pytest.raises(CourseError, match="differs from the pinned content"):
        data.load_ag_news(PROFILES["full"])


def test_smoke_without_data_folder_or_hub_fails_clearly(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CourseError, match="cannot be reached"):
        data.load_ag_news(PROFILES["smoke"])


@needs_data
def test_data_file_reads_the_local_folder():
    path = data.data_file("bias/crows_pairs/crows_pairs_anonymized.csv")
    assert path.is_file() and path.is_relative_to(data.data_dir())


def test_data_file_without_local_copy_or_network_names_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path))
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "network_reachable", lambda *a, **k: False)
    with pytest.raises(CourseError, match="Fix: set LLMCOURSE_DATA"):
        data.data_file("occupations/occ_level.csv")


def test_data_file_without_download_never_touches_the_network(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path))
    monkeypatch.setenv("LLMCOURSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(data, "network_reachable", lambda *a, **k: pytest.fail("download=False probed the network"))
    with pytest.raises(CourseError, match="Fix: set LLMCOURSE_DATA"):
        data.data_file("occupations/occ_level.csv", download=False)


def test_unknown_data_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMCOURSE_DATA", str(tmp_path))
    with pytest.raises(CourseError, match="no public source"):
        data.data_file("nothing/here.csv")


def test_every_pinned_source_is_a_commit_and_a_digest():
    for source in data.SOURCES.values():
        assert len(source.commit) == 40 and len(source.sha256) == 64
        assert source.commit in source.url
