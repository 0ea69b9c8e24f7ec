"""The lab's training code at both ends of the supported transformers range: the oldest (installed once into a
cached folder that shadows the course environment's copy) and the newest (the pinned one), in subprocesses; and the
range's newest end (llmcourse.finetune.NEWEST_TRANSFORMERS) is the version requirements.txt pins."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import llmcourse.finetune as ft

ROOT = Path(__file__).resolve().parents[2]
# transformers 5.0.0 wants huggingface-hub<2 and tokenizers<=0.23.0; hub 1.x needs httpx (the course env has httpx2).
OLDEST_PINS = [f"transformers=={ft.OLDEST_TRANSFORMERS}", "huggingface-hub==1.33.0", "tokenizers==0.22.2",
               "httpx==0.28.1", "httpcore==1.0.9"]


def _pinned_transformers() -> str:
    """The transformers version requirements.txt pins: the newest end of the supported range."""
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.startswith("transformers=="):
            return line.split("==")[1].strip()
    raise AssertionError("requirements.txt does not pin transformers")


def test_the_newest_end_is_the_pinned_version():
    assert ft.NEWEST_TRANSFORMERS == _pinned_transformers(), "update NEWEST_TRANSFORMERS with the pin"
    assert ft.in_supported_range(_pinned_transformers())


def _oldest_site() -> Path:
    """A folder holding the oldest supported transformers and its pins, installed once (kept between CI runs)."""
    root = Path(os.environ.get("LLMCOURSE_COMPAT_CACHE") or Path.home() / ".cache" / "llmcourse-compat")
    target = root / ("transformers-" + ft.OLDEST_TRANSFORMERS)
    if (target / ".complete").exists():
        return target
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(partial), *OLDEST_PINS]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"Installing {OLDEST_PINS} from PyPI failed:\n{done.stderr[-3000:]}"
    (partial / ".complete").touch()
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    return target


@pytest.mark.skipif(not os.environ.get("LLMCOURSE_DATA"), reason="needs the course data folder (LLMCOURSE_DATA)")
@pytest.mark.parametrize("end", ["oldest", "newest"])
def test_tiny_training_at_each_end_of_the_supported_range(end, tmp_path):
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    if end == "oldest":
        expected = ft.OLDEST_TRANSFORMERS
        env["PYTHONPATH"] = os.pathsep.join([str(_oldest_site()), env.get("PYTHONPATH", "")])
    else:
        expected = ft.NEWEST_TRANSFORMERS
        assert importlib.metadata.version("transformers") == expected, "the course environment is not the pinned one"
    tiny = ft.make_tiny_model(tmp_path / "tiny")
    cmd = [sys.executable, "-m", "llmcourse.finetune", "train", "--model", str(tiny), "--out", str(tmp_path / "out"),
           "--train-rows", "48", "--test-rows", "16", "--max-steps", "2", "--batch-size", "8", "--max-length", "32"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    report = ft.parse_result(done.stdout)
    assert report["transformers"] == expected
    assert report["steps"] == 2 and report["test_rows"] == 16
    grouping = subprocess.run([sys.executable, "-c", "import llmcourse.finetune as f; "
                               "print(sorted(f.length_grouping_argument(True)))"],
                              capture_output=True, text=True, env=env, timeout=300)
    wanted = "group_by_length" if expected == ft.OLDEST_TRANSFORMERS else "train_sampling_strategy"
    assert wanted in grouping.stdout, grouping.stderr[-2000:]
