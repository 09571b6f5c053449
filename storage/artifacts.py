"""The artifact directory: original uploads (and, later, adapters and checkpoints).

Paths are derived from ids and content hashes only, never from user-supplied
names, so a hostile filename cannot escape the directory. The directory may be a
shared volume: nothing here assumes the bot and the workers share a disk unless
the configuration points them at the same location.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from storage.channels import ChannelKey


class Artifacts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def channel_dir(self, key: ChannelKey) -> Path:
        return self.root / _safe(key.team_id) / _safe(key.channel_id)

    def document_path(self, key: ChannelKey, document_id: int) -> Path:
        return self.channel_dir(key) / "documents" / f"{document_id}.bin"

    def save_document(self, key: ChannelKey, document_id: int, data: bytes) -> Path:
        """Write the original bytes atomically (temp file + rename)."""
        path = self.document_path(key, document_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
        return path

    def delete_document(self, key: ChannelKey, document_id: int) -> None:
        self.document_path(key, document_id).unlink(missing_ok=True)


def _safe(part: str) -> str:
    cleaned = "".join(ch for ch in part if ch.isalnum() or ch in "-_")
    if not cleaned:
        raise ValueError(f"unusable id for a path: {part!r}")
    return cleaned
