#!/usr/bin/env bash
# Run every test: lint, unit tests, every notebook (nbval), the -W book build and the page test.
source "$(dirname "$0")/setup.sh"
if ! command -v chromium >/dev/null; then
  echo "Installing Debian's chromium for the page test..."
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  ($sudo apt-get update -qq && $sudo apt-get install -y -qq chromium) >/dev/null
fi
ruff check .
python scripts/colab_cell.py --check
python -m llmcourse.grading assign --check  # student versions of the graded labs (book, Colab copies, autograder zips)
python -m pytest tests/unit tests/test_torchrun.py tests/compat chapters labs tests/book tests/grading --nbval-lax --nbval-cell-timeout=1800 "$@"
