"""One cache for costly results (fine-tuned models, adapted heads), keyed by profile and configuration."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

CACHE_VARIABLE = "LLMCOURSE_CACHE"


def cache_root() -> Path:
    """The cache folder: $LLMCOURSE_CACHE, else ~/.cache/llmcourse."""
    root = Path(os.environ.get(CACHE_VARIABLE) or Path.home() / ".cache" / "llmcourse")
    root.mkdir(parents=True, exist_ok=True)
    return root


def cache_key(name: str, config: dict) -> str:
    """A folder name that changes whenever the configuration does."""
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()
    return f"{name}-{digest[:12]}"


def cached_dir(name: str, config: dict, build: Callable[[Path], None]) -> Path:
    """The folder for (name, config); `build(folder)` fills it first when it is absent."""
    final = cache_root() / cache_key(name, config)
    if (final / ".complete").exists():
        return final
    partial = final.with_name(final.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    build(partial)
    (partial / ".cache-config.json").write_text(json.dumps(config, sort_keys=True, indent=1, default=str))
    (partial / ".complete").touch()
    shutil.rmtree(final, ignore_errors=True)
    partial.rename(final)
    return final
