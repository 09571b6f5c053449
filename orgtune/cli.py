"""The ``orgtune`` command: serve, worker, ingest, docs, demo, db."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from orgtune import defaults
from orgtune.config import Config, ConfigError
from orgtune.logs import setup_logging

log = logging.getLogger(__name__)

LOCAL_TEAM = "T-LOCAL"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    config = Config.from_env()
    setup_logging(config.log_level if args.command in ("serve", "worker") else "WARNING")
    try:
        return int(args.func(config, args) or 0)
    except ConfigError as exc:
        print(f"orgtune: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orgtune", description="Teach an AI assistant your documents, in Slack.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("serve", help="run the Slack bot (HTTP on $PORT, or Socket Mode with SLACK_APP_TOKEN)")
    p.add_argument("--host", default="0.0.0.0", help="interface for HTTP mode (default: all)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run an RQ worker for the given queues (default: all)")
    p.add_argument("queues", nargs="*", default=[defaults.QUEUE_INGEST, defaults.QUEUE_TRAIN, defaults.QUEUE_ANSWER])
    p.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    p.add_argument("--name", help="worker name (default: generated)")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("ingest", help="add files to a channel's knowledge, as if shared in Slack")
    _channel_args(p)
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("docs", help="list a channel's documents")
    _channel_args(p)
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("forget", help="remove a document from a channel")
    _channel_args(p)
    p.add_argument("name", help="document name (as `orgtune docs` shows it)")
    p.set_defaults(func=cmd_forget)

    p = sub.add_parser("demo", help="run orgtune locally against an emulated Slack and print the conversation")
    p.add_argument("--model", default="smollm2", help="model for the /train step (default: smollm2)")
    p.add_argument("--socket-mode", action="store_true", help="connect the bot over Socket Mode instead of signed HTTP")
    p.add_argument(
        "--flaky-slack", action="store_true", help="the emulated Slack also fails some calls (5xx, reset connections)"
    )
    p.add_argument(
        "--html", type=Path, metavar="PATH", help="write the channel as a web page here (default: in the temp dir)"
    )
    p.set_defaults(func=cmd_demo)

    from orgtune import cli_train

    cli_train.add_parsers(sub, _channel_args)
    from orgtune import cli_answer

    cli_answer.add_parsers(sub, _channel_args)
    from orgtune import cli_versions

    cli_versions.add_parsers(sub, _channel_args)
    from orgtune import cli_export

    cli_export.add_parsers(sub, _channel_args)

    p = sub.add_parser("db", help="database maintenance")
    p.add_argument("action", choices=["upgrade"], help="upgrade: apply pending migrations")
    p.set_defaults(func=cmd_db)
    return parser


def _channel_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--channel", "-c", required=True, help="Slack channel id, e.g. C0123456")
    p.add_argument("--team", help="Slack team id (default: $ORGTUNE_TEAM_ID, or the channel's only team)")


def cmd_serve(config: Config, args: argparse.Namespace) -> int:
    from bot.app import create_app
    from bot.server import serve_gunicorn, serve_socket_mode
    from storage.db import Database, DatabaseNotReady
    from storage.events import prune_events

    config.require("slack_bot_token", "redis_url")
    if not config.slack_app_token:
        config.require("slack_signing_secret")
    db = Database(config.database_url)
    try:
        db.wait_until_ready(config.startup_wait_s)  # only `orgtune db upgrade` migrates
    except DatabaseNotReady as exc:
        print(f"orgtune serve: {exc}", file=sys.stderr)
        return 1
    with db.session() as session:
        prune_events(session)  # ids older than Slack's retry window
    db.engine.dispose()  # no pooled connection left open for gunicorn's workers to inherit
    # In HTTP mode this thread stays in gunicorn's master: one pruner per host, not per worker.
    threading.Thread(target=_prune_events_forever, args=(db,), name="prune-events", daemon=True).start()
    if config.slack_app_token:
        serve_socket_mode(create_app(config), config.slack_app_token)
    else:
        # The factory runs in each worker after the fork (the Bolt app must not cross it).
        serve_gunicorn(
            lambda: create_app(config),
            args.host,
            config.port,
            workers=config.web_workers,
            log_level=config.log_level,
        )
    return 0


def _prune_events_forever(db: Any) -> None:
    """A long-running bot forgets old event ids hourly, not only when it restarts."""
    from storage.events import prune_events

    while True:
        time.sleep(defaults.EVENT_PRUNE_INTERVAL_S)
        try:
            with db.session() as session:
                pruned = prune_events(session)
            log.info("forgot %d Slack event ids older than a day", pruned)
        except Exception:  # the next round tries again; a failed prune costs only disk
            log.exception("pruning Slack event ids failed")


def cmd_worker(config: Config, args: argparse.Namespace) -> int:
    from jobs.worker import run_worker
    from storage.db import DatabaseNotReady

    try:
        run_worker(config, args.queues, burst=args.burst, name=args.name)
    except ValueError as exc:
        print(f"orgtune worker: {exc}", file=sys.stderr)
        return 2
    except DatabaseNotReady as exc:
        print(f"orgtune worker: {exc}", file=sys.stderr)
        return 1
    return 0


def _runtime(config: Config):  # type: ignore[no-untyped-def]
    from jobs.runtime import Runtime

    runtime = Runtime.from_config(config)
    runtime.db.upgrade()
    return runtime


def _channel_key(config: Config, runtime, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from storage import documents
    from storage.channels import ChannelKey

    team = args.team or config.team_id
    if not team:
        with runtime.db.session() as session:
            teams = documents.teams_for_channel(session, args.channel)
        if len(teams) > 1:
            raise ConfigError(f"channel {args.channel} exists in several workspaces ({', '.join(teams)}); pass --team")
        team = teams[0] if teams else LOCAL_TEAM
    return ChannelKey(team, args.channel)


def runtime_and_key(config: Config, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The Runtime (schema upgraded) and the ChannelKey named by --channel/--team."""
    runtime = _runtime(config)
    return runtime, _channel_key(config, runtime, args)


def cmd_ingest(config: Config, args: argparse.Namespace) -> int:
    from bot.messages import plain
    from jobs.ingest import ingest_local_file

    runtime = _runtime(config)
    key = _channel_key(config, runtime, args)
    failed = 0
    for path in args.files:
        outcome = ingest_local_file(runtime, key, path, uploader=getpass.getuser())
        stream = sys.stdout if outcome.ok else sys.stderr
        print(plain(outcome.text), file=stream)
        failed += 0 if outcome.ok else 1
    return 1 if failed else 0


def cmd_docs(config: Config, args: argparse.Namespace) -> int:
    from bot.listeners.commands import docs_text
    from bot.messages import plain

    runtime = _runtime(config)
    print(plain(docs_text(runtime.db, _channel_key(config, runtime, args))))
    return 0


def cmd_forget(config: Config, args: argparse.Namespace) -> int:
    from bot.listeners.commands import forget_text
    from bot.messages import plain

    runtime = _runtime(config)
    text, kind = forget_text(runtime.db, runtime.artifacts, _channel_key(config, runtime, args), args.name)
    print(plain(text), file=sys.stdout if kind == "in_channel" else sys.stderr)
    return 0 if kind == "in_channel" else 1


def cmd_demo(config: Config, args: argparse.Namespace) -> int:
    from orgtune.demo import run_demo

    return run_demo(
        config, model=args.model, socket_mode=args.socket_mode, html_path=args.html, flaky_slack=args.flaky_slack
    )


def cmd_db(config: Config, args: argparse.Namespace) -> int:
    from storage.db import Database

    Database(config.database_url).upgrade()
    print("database is at the newest migration")
    return 0
