"""The profile is chosen from the environment, and unknown names fail clearly."""

import pytest

from llmcourse import profile as profile_module
from llmcourse.errors import CourseError
from llmcourse.profile import PROFILES, get_profile


def test_environment_variable_selects_the_profile(monkeypatch):
    monkeypatch.setenv("LLMCOURSE_PROFILE", "full")
    monkeypatch.setattr(profile_module, "_cuda_available", lambda: False)
    assert get_profile().name == "full"


def test_default_is_smoke_without_cuda_and_full_with_it(monkeypatch):
    monkeypatch.delenv("LLMCOURSE_PROFILE", raising=False)
    monkeypatch.setattr(profile_module, "_cuda_available", lambda: False)
    assert get_profile().name == "smoke"
    monkeypatch.setattr(profile_module, "_cuda_available", lambda: True)
    monkeypatch.setattr("torch.cuda.is_bf16_supported", lambda: False)
    assert get_profile().name == "full"


def test_unknown_profile_names_the_choices(monkeypatch):
    monkeypatch.setenv("LLMCOURSE_PROFILE", "fast")
    with pytest.raises(CourseError, match="smoke, full"):
        get_profile()


def test_profiles_differ_only_in_names_and_sizes():
    smoke, full = PROFILES["smoke"], PROFILES["full"]
    assert smoke.is_smoke and not full.is_smoke
    assert set(vars(smoke)) == set(vars(full))
    assert smoke.with_overrides(batch_size=4).batch_size == 4


def test_pages_name_the_published_models_and_say_when_quantised():
    smoke, full = PROFILES["smoke"], PROFILES["full"]
    assert smoke.encoder_name == "all-MiniLM-L6-v2"
    assert "Q4_1" in smoke.causal_lm_name and smoke.causal_lm_name.startswith("SmolLM2-135M-Instruct")
    assert (full.encoder_name, full.causal_lm_name) == (full.encoder, full.causal_lm)


@pytest.mark.parametrize("native", [False, True])
def test_smoke_trains_in_bf16_only_on_a_cpu_with_bf16_instructions(monkeypatch, native):
    monkeypatch.setattr(profile_module, "_cuda_available", lambda: False)
    monkeypatch.setattr(profile_module, "_cpu_has_native_bf16", lambda: native)
    smoke = get_profile("smoke")
    assert (smoke.bf16, smoke.fp16) == (native, False)
    assert smoke.with_overrides(bf16=False) == PROFILES["smoke"]
