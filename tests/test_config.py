"""One configuration object from the environment; secrets never in its repr or logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from orgtune.config import Config, ConfigError
from orgtune.logs import RedactTokens, redact


def test_from_env_reads_everything_in_one_place(tmp_path: Path) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-1-abc",
        "SLACK_SIGNING_SECRET": "s3cret",
        "SLACK_API_URL": "http://127.0.0.1:1/api",
        "REDIS_URL": "redis://r:6379/0",
        "ORGTUNE_DATA_DIR": str(tmp_path),
        "PORT": "8080",
        "ORGTUNE_SLACK_FILE_HOSTS": "Files.Example.com, other.example",
    }
    cfg = Config.from_env(env)
    assert cfg.slack_api_url == "http://127.0.0.1:1/api/"
    assert cfg.database_url == f"sqlite:///{(tmp_path / 'orgtune.db').resolve()}"
    assert cfg.port == 8080 and cfg.redis_url == "redis://r:6379/0"
    assert cfg.slack_file_hosts == {"127.0.0.1", "files.example.com", "other.example"}
    assert Config.from_env(cfg.to_env()) == cfg
    assert "xoxb" not in repr(cfg) and "s3cret" not in repr(cfg)


def test_database_url_defaults_and_postgres_aliases() -> None:
    assert Config.from_env({"DATABASE_URL": "postgres://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"
    assert Config.from_env({}).database_url.startswith("sqlite:///")


def test_require_names_the_missing_settings() -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN, REDIS_URL"):
        Config().require("slack_bot_token", "redis_url")


def test_tokens_are_redacted_from_logs(caplog: pytest.LogCaptureFixture) -> None:
    assert redact("auth xoxb-123-456-abc and xapp-1-A1-xyz") == "auth xoxb-[redacted] and xapp-[redacted]"
    logger = logging.getLogger("test.redact")
    caplog.handler.addFilter(RedactTokens())
    with caplog.at_level(logging.INFO):
        logger.info("calling with %s", "xoxb-999-secret")
    assert "xoxb-999" not in caplog.text and "xoxb-[redacted]" in caplog.text


def test_torch_compile_is_on_unless_turned_off() -> None:
    assert Config.from_env({}).torch_compile
    off = Config.from_env({"ORGTUNE_TORCH_COMPILE": "0"})
    assert not off.torch_compile and Config.from_env(off.to_env()) == off
