"""The ``orgtune export`` command: a channel's adapter version for Ollama, PEFT, or as a merged model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from orgtune.cli import runtime_and_key
from orgtune.config import Config


def add_parsers(sub: Any, channel_args: Any) -> None:
    from training.export import FORMATS

    p = sub.add_parser("export", help="export a channel's adapter version (for Ollama, PEFT, or merged into its base)")
    channel_args(p)
    p.add_argument("--version", type=parse_version, help="v2 or 2 (default: the channel's active version)")
    p.add_argument("--format", dest="fmt", required=True, choices=FORMATS, help="what to write")
    p.add_argument("--out", required=True, type=Path, help="a new (or empty) folder to write")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=cmd_export)


def parse_version(text: str) -> int:
    """``v2`` or ``2`` -> 2 (argparse reports anything else as a usage error)."""
    from storage.runs import parse_version as parse

    version = parse(text)
    if version is None:
        raise argparse.ArgumentTypeError(f"not a version: {text!r} (write v2 or 2)")
    return version


def cmd_export(config: Config, args: argparse.Namespace) -> int:
    """Export and check here (the base weights must be on this machine). 0: checked; 1: refused or check failed."""
    from jobs.export import NoAdapter, export_for
    from training.export import ExportError
    from training.models import UnknownModel
    from training.weights import ModelUnavailable

    runtime, key = runtime_and_key(config, args)
    try:
        result = export_for(runtime, key, args.version, args.fmt, args.out)
    except (NoAdapter, ExportError, ModelUnavailable, UnknownModel) as exc:
        print(f"orgtune: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.to_dict(), indent=2) if args.json else result_text(result))
    return 0 if result.check.passed else 1


def result_text(result: Any) -> str:
    from training.plan import human_bytes

    width = max(len(f.path) for f in result.files)
    lines = [
        f"Exported v{result.version} ({result.model}, {result.base_model}) as {result.format} to {result.out_dir}",
        *(f"  {f.path:<{width}}  {human_bytes(f.bytes):>9}" for f in result.files),
        f"  {'total':<{width}}  {human_bytes(result.total_bytes):>9}",
        f"check: {'passed' if result.check.passed else 'FAILED'} ({result.check.detail})",
        f"  original: {result.check.reference!r}",
        f"  exported: {result.check.exported!r}",
        "use it:",
        *(f"  {line}" for line in result.usage.splitlines()),
    ]
    return "\n".join(lines)
