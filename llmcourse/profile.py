"""The two profiles, smoke (CPU, offline) and full (GPU, Hub): the only place that knows sizes and names."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

from llmcourse.errors import CourseError

PROFILE_VARIABLE = "LLMCOURSE_PROFILE"

# What the packaged models are, for readers: the names pages print and put in figure titles.
PACKAGED_MODEL_NAMES = {
    "packaged:minilm": "all-MiniLM-L6-v2",
    "packaged:smollm2": "SmolLM2-135M-Instruct (4-bit Q4_1, dequantised)",
}


@dataclass(frozen=True)
class Profile:
    """Names and sizes for one profile; pages ask for these instead of hard-coding them."""

    name: str
    encoder: str  # "packaged:minilm" or a Hub model id
    causal_lm: str  # "packaged:smollm2" or a Hub model id
    train_rows: int | None  # None: every row the data source has
    test_rows: int | None
    epochs: float
    batch_size: int
    eval_batch_size: int
    learning_rate: float
    max_length: int
    mlm_steps: int  # domain-adaptive masked-LM pretraining budget
    mlm_batch_size: int  # texts per masked-LM step
    mlm_learning_rate: float  # masked-LM head learning rate
    mlm_body_learning_rate: float  # learning rate of the encoder layers updated by masked-LM training
    mlm_train_layers: int  # top encoder layers updated by masked-LM training (0: head only)
    mlm_eval_rows: int  # AG News test rows masked once to score masked-LM loss/accuracy
    zero_shot_rows: int | None  # AG News test rows scored by the causal LM
    probe_train_rows: int | None  # AG News train rows encoded for the frozen-encoder heads (None: all)
    probe_test_rows: int | None  # AG News test rows those heads are scored on (None: all)
    bias_pairs: int | None  # CrowS-Pairs pairs scored
    winobias_pairs: int | None  # WinoBias pro/anti sentence pairs scored (None: all 1,584)
    canary_rows: int  # AG News train rows in the privacy page's canary corpus
    canary_epochs: int  # epochs of the privacy page's small canary model
    detect_articles: int  # AG News articles continued by the causal LM for the detection page (half train, half test)
    attribution_rows: int  # AG News test rows explained with integrated gradients
    bench_steps: int  # timed training steps per configuration in the AG News lab's speed benchmark
    fp16: bool
    bf16: bool

    @property
    def encoder_name(self) -> str:
        """The encoder's name for readers (the published model, not the loader's key)."""
        return PACKAGED_MODEL_NAMES.get(self.encoder, self.encoder)

    @property
    def causal_lm_name(self) -> str:
        """The causal LM's name for readers; says when the smoke copy is quantised."""
        return PACKAGED_MODEL_NAMES.get(self.causal_lm, self.causal_lm)

    @property
    def is_smoke(self) -> bool:
        """True for the CPU, offline profile."""
        return self.name == "smoke"

    def with_overrides(self, **changes: object) -> Profile:
        """A copy with some fields changed (for tests and quick experiments)."""
        return replace(self, **changes)


PROFILES: dict[str, Profile] = {
    "smoke": Profile(
        name="smoke",
        encoder="packaged:minilm",
        causal_lm="packaged:smollm2",
        train_rows=5000,  # the local 5,000-row train sample (a balanced 5,000 when read from the Hub)
        test_rows=None,  # the full 7,600-row test split
        epochs=1.0,
        batch_size=32,
        eval_batch_size=64,  # on 2 CPU cores, faster per row than 128
        learning_rate=1e-4,
        max_length=128,
        mlm_steps=150,
        mlm_batch_size=8,
        mlm_learning_rate=3e-3,
        mlm_body_learning_rate=1e-4,
        mlm_train_layers=2,
        mlm_eval_rows=256,
        zero_shot_rows=200,
        probe_train_rows=2000,
        probe_test_rows=1000,
        bias_pairs=300,
        winobias_pairs=200,
        canary_rows=500,
        canary_epochs=8,
        detect_articles=128,
        attribution_rows=60,
        bench_steps=6,
        fp16=False,
        bf16=False,
    ),
    "full": Profile(
        name="full",
        encoder="bert-base-uncased",
        causal_lm="HuggingFaceTB/SmolLM2-135M-Instruct",
        train_rows=None,
        test_rows=None,
        epochs=2.0,
        batch_size=32,
        eval_batch_size=256,
        learning_rate=2e-5,
        max_length=128,
        mlm_steps=1000,
        mlm_batch_size=32,
        mlm_learning_rate=5e-5,
        mlm_body_learning_rate=5e-5,
        mlm_train_layers=12,
        mlm_eval_rows=2000,
        zero_shot_rows=None,
        probe_train_rows=10000,
        probe_test_rows=None,
        bias_pairs=None,
        winobias_pairs=None,
        canary_rows=5000,
        canary_epochs=8,
        detect_articles=400,
        attribution_rows=500,
        bench_steps=50,
        fp16=True,
        bf16=False,
    ),
}


def _cuda_available() -> bool:
    """Whether a CUDA GPU can be used."""
    import torch

    return torch.cuda.is_available()


def _cpu_has_native_bf16() -> bool:
    """Whether the CPU has bfloat16 instructions (AVX512-BF16 or AMX), where bf16 autocast speeds training up."""
    import torch

    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")  # torch.cpu's probes; absent: no
    return any(getattr(torch.cpu, name, lambda: False)() for name in checks)


def get_profile(name: str | None = None) -> Profile:
    """The profile named, else $LLMCOURSE_PROFILE, else full with CUDA and smoke without."""
    chosen = name or os.environ.get(PROFILE_VARIABLE) or ("full" if _cuda_available() else "smoke")
    if chosen not in PROFILES:
        raise CourseError(
            f"Unknown profile {chosen!r} (from {PROFILE_VARIABLE} or the argument). "
            f"Use one of: {', '.join(PROFILES)}."
        )
    profile = PROFILES[chosen]
    if profile.name == "full" and _cuda_available():
        import torch

        if torch.cuda.is_bf16_supported():
            profile = profile.with_overrides(fp16=False, bf16=True)
    elif profile.is_smoke and not _cuda_available() and _cpu_has_native_bf16():
        profile = profile.with_overrides(bf16=True)  # mixed precision on this CPU, as on a GPU
    return profile
