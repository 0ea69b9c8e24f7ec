"""The lab's training code under torchrun: two CPU processes (gloo) train one model with DDP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from transformers import AutoModelForSequenceClassification

import llmcourse.finetune as ft


def _free_port() -> int:
    """A TCP port nobody is listening on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not os.environ.get("LLMCOURSE_DATA"), reason="needs the course data folder (LLMCOURSE_DATA)")
def test_training_runs_data_parallel_on_two_cpu_processes(tmp_path):
    tiny = ft.make_tiny_model(tmp_path / "tiny")
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
           "-m", "llmcourse.finetune", "train", "--model", str(tiny), "--out", str(out), "--train-rows", "64",
           "--test-rows", "32", "--max-steps", "3", "--batch-size", "8", "--max-length", "32"]
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.count(ft.RESULT_MARKER + " ") == 1, done.stdout  # only rank 0 saves and reports
    report = ft.parse_result(done.stdout)
    assert report["world_size"] == 2 and report["steps"] == 3
    # A near-random 4-way classifier has loss ~ln 4; the loss must not be multiplied by the number of processes.
    assert abs(report["train_loss"] - np.log(4)) < 0.3, report["train_loss"]
    assert np.load(out / ft.LOGITS_FILE).shape == (32, 4)
    AutoModelForSequenceClassification.from_pretrained(out)
