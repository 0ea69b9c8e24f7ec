#!/usr/bin/env bash
# Build the HTML book: execute every notebook once (smoke profile on CPU), then render _build/html.
source "$(dirname "$0")/setup.sh"
python -m pytest chapters labs --nbval-lax --nbval-cell-timeout=1800 -q
python -m llmcourse.grading assign  # student versions of the graded labs, shown in the book
python scripts/book.py
echo "Book: $PWD/_build/html/index.html"
