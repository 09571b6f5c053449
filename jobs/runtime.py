"""Per-process services for jobs: config, database, Slack client, artifacts.

A worker builds its Runtime once from the environment; RQ's work horses inherit
it through fork (the Database rebuilds its pool per process). The command line
and tests install their own with :func:`set_runtime`.
"""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.http_retry import (
    BackoffRetryIntervalCalculator,
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    RetryHandler,
)
from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

from orgtune import defaults
from orgtune.config import Config
from storage.artifacts import Artifacts
from storage.db import Database


@dataclass
class Runtime:
    config: Config
    db: Database
    artifacts: Artifacts
    _slack: WebClient | None = None

    @classmethod
    def from_config(cls, config: Config) -> Runtime:
        return cls(config=config, db=Database(config.database_url), artifacts=Artifacts(config.artifacts_dir))

    @property
    def slack(self) -> WebClient:
        """The Web API client; only jobs that post need it, so it is built on first use."""
        if self._slack is None:
            self.config.require("slack_bot_token")
            self._slack = make_slack_client(self.config)
        return self._slack


def make_slack_client(config: Config, timeout: int = defaults.SLACK_JOB_TIMEOUT_S) -> WebClient:
    """A Web API client that rides out what Slack routinely answers.

    slack_sdk's retry handlers are off by default (one connection retry only): a
    429 would then fail a job whose work is done. These honour Retry-After on
    429s and retry 500/503 answers and reset connections with backoff. Every
    posting step is written so a repeat changes nothing.
    """
    handlers: list[RetryHandler] = [
        RateLimitErrorRetryHandler(max_retry_count=defaults.SLACK_RATE_LIMIT_RETRIES),
        ServerErrorRetryHandler(max_retry_count=defaults.SLACK_SERVER_ERROR_RETRIES, interval_calculator=_BACKOFF),
        ConnectionErrorRetryHandler(max_retry_count=defaults.SLACK_SERVER_ERROR_RETRIES, interval_calculator=_BACKOFF),
    ]
    return WebClient(
        token=config.slack_bot_token, base_url=config.slack_api_url, timeout=timeout, retry_handlers=handlers
    )


_BACKOFF = BackoffRetryIntervalCalculator(backoff_factor=defaults.SLACK_RETRY_BACKOFF_S)


_runtime: Runtime | None = None


def set_runtime(runtime: Runtime | None) -> None:
    global _runtime
    _runtime = runtime


def get_runtime() -> Runtime:
    """The process's Runtime, built from the environment on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime.from_config(Config.from_env())
    return _runtime
