#!/usr/bin/env bash
# Set up (idempotent), then run the local demo: no Slack credentials needed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/orgtune demo "$@"
