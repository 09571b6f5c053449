#!/usr/bin/env bash
# Set up (idempotent), then lint, type-check and run the test suite.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy bot jobs storage
.venv/bin/python -m pytest "$@"
