"""The key that scopes all knowledge: one Slack channel in one workspace."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelKey:
    """``(team_id, channel_id)``: documents, runs and adapters never cross it."""

    team_id: str
    channel_id: str

    def __str__(self) -> str:
        return f"{self.team_id}/{self.channel_id}"
