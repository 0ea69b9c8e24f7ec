"""Data sources: the configured local data folder first, then pinned public copies, with clear errors."""

from __future__ import annotations

import hashlib
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from llmcourse.cache import cache_root
from llmcourse.errors import CourseError
from llmcourse.profile import Profile, get_profile

DATA_VARIABLE = "LLMCOURSE_DATA"
AG_NEWS_CLASSES = ["World", "Sports", "Business", "Sci/Tech"]
AG_NEWS_HUB_ID = "fancyzhx/ag_news"
AG_NEWS_HUB_REVISION = "eb185aade064a813bc0b7f42de02595523103ca4"  # the Hub commit with the parquet splits
# The Hub copy is also pinned by content: its test split must hash to the same value as the local copy.
AG_NEWS_TEST_SHA256 = "a3c625ff62e71e71b80707ea278da57dfd89fc14a74c866ecc621ecd38f0f768"
HUB_HOST = "huggingface.co"


@dataclass(frozen=True)
class Source:
    """A public file pinned to a commit, with the SHA-256 of its bytes."""

    repo: str
    commit: str
    path: str
    sha256: str

    @property
    def url(self) -> str:
        """The raw download address of this exact version."""
        return f"https://raw.githubusercontent.com/{self.repo}/{self.commit}/{self.path}"


_CROWS = ("nyu-mll/crows-pairs", "8aaac11c485473159ec9328a65253a5be9a479dc")
_WINO = ("uclanlp/corefBias", "0bce984dd081bbc10b0622f326727a024c607895")
_OCC = ("openai/GPTs-are-GPTs", "0471612fef3cc22b74fb884d27bff9dbd3770582")
_AGN = ("mhjabreel/CharCnn_Keras", "555590db4219b1243abb1918effd6a7425a2d75f")

_WINOBIAS_SHA256 = {
    "anti_stereotyped_type1.txt.dev":
        "a4e0ebae344e78b56f657a42e8ae684b9db7747d177c5e7149c0907ebb7f3bf6",
    "anti_stereotyped_type1.txt.test":
        "331db5bd74bfefebf146a60b67645152a4a1991570d2a56f57154103ac361dd2",
    "anti_stereotyped_type2.txt.dev":
        "763ad829ad724f9a85ead689ba8ca69072020cb1238def6210f0fc6a47b97e59",
    "anti_stereotyped_type2.txt.test":
        "336571ac1ea8c06cd2aba8e5dd2bd98e00acc0c48da3e4ec5ec7e54eb2633a8f",
    "pro_stereotyped_type1.txt.dev":
        "dd55a0d220fe4c0ceb63dd4648223fb4fe1a58d5ad95c116a002ad24b0e292a5",
    "pro_stereotyped_type1.txt.test":
        "db7838907238a758eeb5779e48f38c013b892910d6fe864456c59f04245c6689",
    "pro_stereotyped_type2.txt.dev":
        "8f0250de723cea9328e3eaf7169e07936f01aa5909ce7aa580db66eb803f4e86",
    "pro_stereotyped_type2.txt.test":
        "ea1c1fd94fa612e3cc44d7fa3cc4cb76021bb63fdf94f9826f430051e9052438",
    "male_occupations.txt":
        "6b82d88847b69d56d207a0c396e9830b031890de585e916e6b4e9bc50672657e",
    "female_occupations.txt":
        "693bff12286c2c1d46c7d4d45a44a631574710c30b39c1a3001bb7bdebb44ed8",
    "extra_gendered_words.txt":
        "728554ebab711703e37dc92d9d14acde6e5bfcc28fa5b62b90b34110be7bd854",
    "generalized_swaps.txt":
        "4d093db96d4386318ec9aafc3cebc458ead06bb02ac81770e278905fbdd4341e",
}
_WINOBIAS_TOP = {"extra_gendered_words.txt", "generalized_swaps.txt"}

SOURCES: dict[str, Source] = {
    "ag_news/test.csv": Source(*_AGN, "data/ag_news_csv/test.csv",
                               "521465c2428ed7f02f8d6db6ffdd4b5447c1c701962353eb2c40d548c3c85699"),
    "ag_news/readme.upstream.txt": Source(*_AGN, "data/ag_news_csv/readme.txt",
                                          "779c2e6bbf93dd810d9c7b318006daef7a4bfc34062002461d251dc10fb9f58c"),
    "bias/crows_pairs/crows_pairs_anonymized.csv": Source(
        *_CROWS, "data/crows_pairs_anonymized.csv",
        "dfb36986ce0502abbaf7055b9176da3d08d48e07df1251991b5dfbcbceab9d0c"),
    "occupations/occ_level.csv": Source(*_OCC, "data/occ_level.csv",
                                        "40c74f53de40aec91c0017d80690cbba915f83a8bb414bcf2f884692f1749acb"),
    **{
        f"bias/winobias/{name}": Source(
            *_WINO, f"WinoBias/wino/{'' if name in _WINOBIAS_TOP else 'data/'}{name}", digest
        )
        for name, digest in _WINOBIAS_SHA256.items()
    },
}


def data_dir() -> Path | None:
    """The local data folder from $LLMCOURSE_DATA, or None when it is not set."""
    value = os.environ.get(DATA_VARIABLE)
    return Path(value).expanduser() if value else None


def network_reachable(host: str = HUB_HOST, timeout: float = 3.0) -> bool:
    """Whether `host` answers on port 443 within `timeout` seconds (False when HF_HUB_OFFLINE is set)."""
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0"):
        return False
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def data_file(relpath: str, download: bool = True) -> Path:
    """A data file: from the local data folder, else downloaded once from its pinned public source (if `download`)."""
    local = data_dir()
    if local is not None and (local / relpath).is_file():
        return local / relpath
    source = SOURCES.get(relpath)
    if source is None:
        raise CourseError(f"{relpath} is not in the data folder ({DATA_VARIABLE}={local}) and has no public source.")
    target = cache_root() / "downloads" / relpath
    if target.is_file() and _sha256(target) == source.sha256:
        return target
    if not download or not network_reachable("raw.githubusercontent.com"):
        raise CourseError(
            f"Cannot find {relpath}: it is not under the data folder ({DATA_VARIABLE}={local}) and "
            f"{source.url} cannot be reached. Fix: set {DATA_VARIABLE} to the course data folder, "
            "or run where the network is available."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    urllib.request.urlretrieve(source.url, target)
    if _sha256(target) != source.sha256:
        target.unlink()
        raise CourseError(f"{source.url} did not match its pinned SHA-256; refusing to use it.")
    return target


def load_ag_news(profile: Profile | None = None):
    """AG News as a DatasetDict with the Hub's columns (`text`, `label` as a ClassLabel), sized by the profile."""
    import datasets

    profile = profile or get_profile()
    local = data_dir()
    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=AG_NEWS_CLASSES)}
    )
    if profile.is_smoke and local is not None and (local / "ag_news" / "test.parquet").is_file():
        files = {
            "train": str(local / "ag_news" / "train_sample5000" / "train_sample5000.parquet"),
            "test": str(local / "ag_news" / "test.parquet"),
        }
        raw = datasets.load_dataset("parquet", data_files=files)
        ds = raw.select_columns(["text", "label"]).cast(features)
    elif network_reachable():
        ds = datasets.load_dataset(AG_NEWS_HUB_ID, revision=AG_NEWS_HUB_REVISION).cast(features)
        if split_fingerprint(ds["test"]) != AG_NEWS_TEST_SHA256:
            raise CourseError(f"The Hub's {AG_NEWS_HUB_ID} test split differs from the pinned content.")
    else:
        where = f"{local / 'ag_news'}" if local else f"the folder named by {DATA_VARIABLE} (not set)"
        raise CourseError(
            f"AG News is not available ({profile.name} profile). Looked in {where} and on the "
            f"Hugging Face Hub ({AG_NEWS_HUB_ID}), which cannot be reached. Fix: set {DATA_VARIABLE} to the "
            "course data folder and use LLMCOURSE_PROFILE=smoke, or run where the Hub is reachable."
        )
    sizes = {"train": profile.train_rows, "test": profile.test_rows}
    for split, rows in sizes.items():
        if rows is not None and rows < len(ds[split]):
            ds[split] = balanced_sample(ds[split], rows)
    return ds


def split_fingerprint(dataset) -> str:
    """SHA-256 of a split's labels and texts in order: a content pin that works offline."""
    rows = "\n".join(f"{label}\t{text}" for text, label in zip(dataset["text"], dataset["label"], strict=True))
    return hashlib.sha256(rows.encode()).hexdigest()


def balanced_sample(dataset, rows: int, seed: int = 0):
    """A class-balanced random subset of `rows` rows (the same for every run with the same seed)."""
    import numpy as np

    labels = np.asarray(dataset["label"])
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    per_class = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    quota = [rows // len(classes) + (i < rows % len(classes)) for i in range(len(classes))]
    picked = np.concatenate([idx[:q] for idx, q in zip(per_class, quota, strict=True)])
    return dataset.select(sorted(picked.tolist()))


def stratified_sample(frame, n: int | None, by, seed: int = 0):
    """A random `n` rows of a DataFrame, allocated to the strata `by` in proportion to their size.

    Each stratum gets the floor of its proportional share; the leftover rows go to the strata with the largest
    remainders. With `n` None or at least the frame's length, the frame itself is returned.
    """
    import numpy as np
    import pandas as pd

    if n is None or n >= len(frame):
        return frame
    share = frame.groupby(by).size() / len(frame) * n
    quota = np.floor(share).astype(int)
    quota[(share - quota).sort_values(ascending=False).index[: n - quota.sum()]] += 1
    parts = [group.sample(quota[key], random_state=seed) for key, group in frame.groupby(by)]
    return pd.concat(parts).sort_index()
