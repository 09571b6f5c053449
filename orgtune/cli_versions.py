"""Version commands of the ``orgtune`` CLI: adapters (list) and use (switch / roll back)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from orgtune.cli import runtime_and_key
from orgtune.config import Config


def add_parsers(sub: Any, channel_args: Any) -> None:
    p = sub.add_parser("adapters", help="list the versions of a channel's assistant (like /orgtune adapters)")
    channel_args(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_adapters)

    p = sub.add_parser("use", help="make a version answer in a channel (like /orgtune use v2)")
    channel_args(p)
    p.add_argument("version", help="v2 or 2")
    p.set_defaults(func=cmd_use)


def cmd_adapters(config: Config, args: argparse.Namespace) -> int:
    from bot.listeners.versions import adapters_text
    from bot.messages import plain
    from storage import runs

    runtime, key = runtime_and_key(config, args)
    if not args.json:
        print(plain(adapters_text(runtime.db, key)))
        return 0
    with runtime.db.session() as session:
        active = runs.active_adapter(session, key)
        rows = [
            {
                "version": a.version,
                "active": active is not None and a.id == active.id,
                "model": a.model,
                "base_model": a.base_model,
                "created_at": a.created_at.isoformat(),
                "documents": a.documents or [],
                "metrics": a.metrics or {},
                "path": str(runtime.artifacts.root / a.path),
                "size_bytes": a.size_bytes,
            }
            for a in runs.adapters(session, key)
        ]
    print(json.dumps(rows, indent=2))
    return 0


def cmd_use(config: Config, args: argparse.Namespace) -> int:
    from bot.listeners.versions import use_text
    from bot.messages import plain

    runtime, key = runtime_and_key(config, args)
    text, ok = use_text(runtime.db, key, args.version, None)
    print(plain(text), file=sys.stdout if ok else sys.stderr)
    return 0 if ok or "already answers" in text else 1
