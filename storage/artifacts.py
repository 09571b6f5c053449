"""The artifact directory: original uploads (and, later, adapters and checkpoints).

Paths are derived from ids and content hashes only, never from user-supplied
names, so a hostile filename cannot escape the directory. The directory may be a
shared volume: nothing here assumes the bot and the workers share a disk unless
the configuration points them at the same location.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from pathlib import Path

from storage.channels import ChannelKey

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""No space left, over a quota, over the file-size limit (RLIMIT_FSIZE): "the directory is full"."""


class ArtifactWriteError(RuntimeError):
    """A file could not be written to the artifact directory; nothing was left behind.

    The message names the cause, never a path, so callers can show it to a user as an
    internal failure ("the artifact directory is full").
    """

    @classmethod
    def from_os_error(cls, exc: OSError) -> ArtifactWriteError:
        if exc.errno in FULL_ERRNOS:
            return cls(f"the artifact directory is full ({exc.strerror or exc})")
        return cls(f"the artifact directory could not be written ({exc.strerror or type(exc).__name__})")


class Artifacts:
    def __init__(self, root: Path) -> None:
        self.root = root

    def channel_dir(self, key: ChannelKey) -> Path:
        return self.root / _safe(key.team_id) / _safe(key.channel_id)

    def vectors_dir(self, key: ChannelKey) -> Path:
        """Chunk embeddings of the channel's documents (`answering.embed.Embedder.preload`); safe to delete."""
        return self.channel_dir(key) / "vectors"

    def document_path(self, key: ChannelKey, document_id: int) -> Path:
        return self.channel_dir(key) / "documents" / f"{document_id}.bin"

    def save_document(self, key: ChannelKey, document_id: int, data: bytes) -> Path:
        """Write the original bytes atomically (temp file + rename); raises ArtifactWriteError."""
        path = self.document_path(key, document_id)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_atomically(path, data)
        except OSError as exc:
            raise ArtifactWriteError.from_os_error(exc) from exc
        return path

    def delete_document(self, key: ChannelKey, document_id: int) -> None:
        self.document_path(key, document_id).unlink(missing_ok=True)
        for vectors in self.vectors_dir(key).glob(f"{document_id}-*.pt"):
            vectors.unlink(missing_ok=True)  # embeddings of a forgotten document are forgotten with it


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the whole file or none; a failed write (disk full, EFBIG) removes its temporary file,
    which nothing else would ever clean up."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)  # ENOSPC may also come from the flush in close(), still inside this try
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the write's own error is the one to report
            os.unlink(tmp)
        raise


def _safe(part: str) -> str:
    cleaned = "".join(ch for ch in part if ch.isalnum() or ch in "-_")
    if not cleaned:
        raise ValueError(f"unusable id for a path: {part!r}")
    return cleaned
