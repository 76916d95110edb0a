"""Low-level I/O for image reading: windows into files, spooling, sniffing, capped JSON.

Every blob ends up as a byte range of a file the archive owns (an OCI layout's blob, a member
of a tarball, or a spooled stream in the archive's temporary directory). Readers use
``os.preadv`` on a shared descriptor, so any number of independent, seekable streams can be
open at once without a shared file position.
"""

from __future__ import annotations

import enum
import io
import json
import os
from typing import BinaryIO

from linkcheck.errors import ImageFormatError

__all__ = [
    "CHUNK",
    "Compression",
    "FileWindow",
    "load_json",
    "open_window",
    "sniff_compression",
]

CHUNK = 1 << 20

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class Compression(enum.Enum):
    NONE = "none"
    GZIP = "gzip"
    ZSTD = "zstd"


def sniff_compression(head: bytes) -> Compression:
    """Compression from the first bytes (media types lie: BuildKit's ``tar.zstd``)."""
    if head.startswith(GZIP_MAGIC):
        return Compression.GZIP
    if head.startswith(ZSTD_MAGIC):
        return Compression.ZSTD
    return Compression.NONE


class FileWindow(io.RawIOBase):
    """A read-only, seekable view of ``size`` bytes at ``offset`` of the open file ``fd``."""

    def __init__(self, fd: int, offset: int, size: int) -> None:
        super().__init__()
        self._fd = fd
        self._offset = offset
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._size - self._pos)
        if n <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:n]
        got = os.preadv(self._fd, [view], self._offset + self._pos)
        self._pos += got
        return got

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        if base + pos < 0:
            raise ValueError("negative seek position")
        self._pos = base + pos
        return self._pos

    def tell(self) -> int:
        return self._pos


def open_window(fd: int, offset: int, size: int) -> BinaryIO:
    # 64 KiB, not CHUNK: the analysis may hold hundreds of these open at once
    return io.BufferedReader(FileWindow(fd, offset, size), buffer_size=64 << 10)


def load_json(data: bytes, what: str) -> dict[str, object]:
    """Parse a JSON object; any other shape is a format error naming ``what``."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ImageFormatError(f"{what}: malformed JSON ({e})") from e
    if not isinstance(value, dict):
        raise ImageFormatError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value
