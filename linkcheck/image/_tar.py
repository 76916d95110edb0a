"""A lean, streaming tar reader for layers: headers parsed by hand, data never buffered.

``tarfile`` in stream mode costs ~3x more per byte than decompression itself (FACTS.md,
"Cost of reading"), so layers go through this reader: ustar/GNU/pax headers (POSIX.1-2001
``pax`` section; GNU tar manual "Basic Tar Format"), the uncompressed bytes hashed as they
pass (the layer's ``diff_id``), and a byte budget against decompression bombs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.errors import ImageFormatError, UnsafeImageError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from linkcheck.image._hashing import Updatable

__all__ = ["Budget", "Feed", "TarMember", "iter_members"]

BLOCK = 512
_CHUNK = 1 << 20
_MAX_META = 1 << 20  # pax/GNU long-name payloads: a name is never a megabyte
_NO_DATA = frozenset("123456")  # hardlink, symlink, char, block, dir, fifo


class Budget:
    """How many more uncompressed bytes this load may read (decompression bombs)."""

    def __init__(self, remaining: int) -> None:
        self.limit = remaining
        self.remaining = remaining


class Feed:
    """Uncompressed layer bytes: exact reads and skips, hashed and counted as they pass."""

    def __init__(
        self,
        read: Callable[[int], bytes],
        label: str,
        *,
        budget: Budget | None = None,
        digest: Updatable | None = None,
    ) -> None:
        self._read = read
        self._label = label
        self._budget = budget
        self._digest = digest
        self._buf = b""
        self._pos = 0
        self.offset = 0  # offset of the next unread byte in the uncompressed stream

    def _more(self) -> bytes:
        chunk = self._read(_CHUNK)
        if chunk:
            if self._digest is not None:
                self._digest.update(chunk)
            if self._budget is not None:
                self._budget.remaining -= len(chunk)
                if self._budget.remaining < 0:
                    raise UnsafeImageError(
                        f"{self._label}: more than {self._budget.limit} uncompressed bytes"
                        " (decompression bomb?); raise Limits.max_uncompressed_bytes if genuine"
                    )
        return chunk

    def _fill(self, need: int) -> bool:
        while len(self._buf) - self._pos < need:
            chunk = self._more()
            if not chunk:
                return False
            self._buf = self._buf[self._pos :] + chunk
            self._pos = 0
        return True

    def read(self, n: int) -> bytes:
        if not self._fill(n):
            raise ImageFormatError(f"{self._label}: truncated tar stream")
        out = self._buf[self._pos : self._pos + n]
        self._pos += n
        self.offset += n
        return out

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return self._buf[self._pos : self._pos + n]

    def chunks(self, n: int) -> Iterator[bytes]:
        """The next ``n`` bytes in pieces, without joining them."""
        while n > 0:
            if self._pos >= len(self._buf):
                self._buf, self._pos = self._more(), 0
                if not self._buf:
                    raise ImageFormatError(f"{self._label}: truncated tar stream")
            piece = self._buf[self._pos : self._pos + n]
            self._pos += len(piece)
            self.offset += len(piece)
            n -= len(piece)
            yield piece

    def skip(self, n: int) -> None:
        """Pass ``n`` bytes (hashed on the way in) without slicing them out."""
        while n > 0:
            avail = len(self._buf) - self._pos
            if avail == 0:
                self._buf, self._pos = self._more(), 0
                if not self._buf:
                    raise ImageFormatError(f"{self._label}: truncated tar stream")
                continue
            step = min(avail, n)
            self._pos += step
            self.offset += step
            n -= step

    def drain(self) -> None:
        """Read (and hash) everything left: the digest covers trailing padding too."""
        self.offset += len(self._buf) - self._pos
        self._buf, self._pos = b"", 0
        while chunk := self._more():
            self.offset += len(chunk)


@dataclass(slots=True)
class TarMember:
    name: str
    kind: str  # the tar typeflag: "0" file, "1" hardlink, "2" symlink, "5" dir, ...
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    data_offset: int


def _text(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _number(field: bytes, label: str) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for values that do not fit in octal
        value = int.from_bytes(field, "big") & ~(0xFF << (8 * (len(field) - 1)))
        return value
    digits = field.split(b"\0", 1)[0].strip(b" ")
    try:
        return int(digits, 8) if digits else 0
    except ValueError as e:
        raise ImageFormatError(f"{label}: invalid tar header number {digits!r}") from e


def _decimal(text: str, label: str) -> int:
    try:
        value = int(text, 10)
    except ValueError as e:
        raise ImageFormatError(f"{label}: invalid pax number {text!r}") from e
    if value < 0:
        raise ImageFormatError(f"{label}: negative pax number {text!r}")
    return value


def _check_header(block: bytes, offset: int, label: str) -> None:
    stored = _number(block[148:156], label)
    unsigned = sum(block[:148]) + 8 * 0x20 + sum(block[156:])
    if stored != unsigned:
        raise ImageFormatError(f"{label}: invalid tar header checksum at offset {offset}")


def _pax(data: bytes, label: str) -> dict[str, str]:
    """Parse ``"%d %s=%s\\n"`` records (POSIX.1-2001, pax "extended header")."""
    out: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        try:
            length = int(data[pos:space])
        except ValueError as e:
            raise ImageFormatError(f"{label}: malformed pax header") from e
        record = data[space + 1 : pos + length]
        if length <= 0 or not record.endswith(b"\n") or b"=" not in record:
            raise ImageFormatError(f"{label}: malformed pax header")
        key, _, value = record[:-1].partition(b"=")
        out[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return out


def _meta(feed: Feed, size: int, label: str) -> bytes:
    if size > _MAX_META:
        raise UnsafeImageError(f"{label}: tar extended header of {size} bytes")
    data = feed.read(size)
    feed.skip(-size % BLOCK)
    return data


def iter_members(feed: Feed, label: str) -> Iterator[TarMember]:
    """Yield each member; the consumer may read its data from ``feed`` or leave it."""
    pax: dict[str, str] = {}
    long_name: str | None = None
    long_link: str | None = None
    while True:
        header_offset = feed.offset
        block = feed.read(BLOCK)
        if block == bytes(BLOCK):  # end-of-archive marker (the second block is optional)
            feed.drain()
            return
        _check_header(block, header_offset, label)
        kind = chr(block[156]) if block[156] else "0"
        size = _number(block[124:136], label)
        if kind in "xg":  # pax extended header; global ("g") records are ignored
            data = _meta(feed, size, label)
            if kind == "x":
                pax = _pax(data, label)
            continue
        if kind in "LK":  # GNU long name / long link name
            text = _text(_meta(feed, size, label))
            long_name, long_link = (text, long_link) if kind == "L" else (long_name, text)
            continue
        if kind == "S" or "GNU.sparse.major" in pax or "GNU.sparse.size" in pax:
            raise ImageFormatError(f"{label}: sparse tar members are not supported")
        name = _text(block[0:100])
        if block[257:263] == b"ustar\0" and block[345]:  # POSIX ustar prefix field
            name = _text(block[345:500]) + "/" + name
        if "size" in pax:
            size = _decimal(pax["size"], label)
        if kind in _NO_DATA:  # tarfile does the same: these types never carry data
            size = 0
        member = TarMember(
            name=pax.get("path", long_name if long_name is not None else name),
            kind=kind,
            mode=_number(block[100:108], label) & 0o7777,
            uid=_decimal(pax["uid"], label) if "uid" in pax else _number(block[108:116], label),
            gid=_decimal(pax["gid"], label) if "gid" in pax else _number(block[116:124], label),
            size=size,
            linkname=pax.get("linkpath", long_link or _text(block[157:257])),
            data_offset=feed.offset,
        )
        pax, long_name, long_link = {}, None, None
        yield member
        consumed = feed.offset - member.data_offset
        feed.skip(size - consumed + (-size % BLOCK))
