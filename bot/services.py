"""What listeners need: configuration, database, Redis and the artifact directory."""

from __future__ import annotations

from dataclasses import dataclass

from redis import Redis

from jobs.queues import redis_for_bot
from orgtune.config import Config
from storage.artifacts import Artifacts
from storage.db import Database


@dataclass
class BotServices:
    config: Config
    db: Database
    redis: Redis
    artifacts: Artifacts

    @classmethod
    def from_config(cls, config: Config) -> BotServices:
        return cls(
            config=config,
            db=Database(config.database_url),
            redis=redis_for_bot(config),
            artifacts=Artifacts(config.artifacts_dir),
        )
