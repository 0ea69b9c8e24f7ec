"""The speed benchmark entry point runs small on CPU and prints both configurations and their ratio."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

import llmcourse.finetune as ft


@pytest.mark.skipif(not os.environ.get("LLMCOURSE_DATA"), reason="needs the course data folder (LLMCOURSE_DATA)")
def test_benchmark_prints_baseline_tuned_and_ratio(tmp_path):
    tiny = ft.make_tiny_model(tmp_path / "tiny")
    cmd = [sys.executable, "-m", "llmcourse.finetune", "bench", "--profile", "smoke", "--steps", "2",
           "--batch-size", "8", "--model", str(tiny)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("baseline ") for line in lines) and any(line.startswith("tuned ") for line in lines)
    ratio = re.search(r"ratio tuned/baseline: ([0-9.]+)x samples/s, ([0-9.]+)x tokens/s", done.stdout)
    assert ratio is not None, done.stdout
    assert float(ratio.group(1)) > 0 and float(ratio.group(2)) > 0
    sizes = re.findall(r"batch 8, 2 steps over 16 rows", done.stdout)
    assert len(sizes) == 2, done.stdout  # both configurations time the same 16 rows


def test_benchmark_reports_a_failed_run_with_the_command(monkeypatch):
    monkeypatch.setenv("LLMCOURSE_DATA", "/nonexistent-course-data")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ft.CourseError, match="bench-one"):
        ft.benchmark(steps=1, profile=ft.get_profile("smoke"), model="/nonexistent-model")
