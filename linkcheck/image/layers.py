"""Apply layers, one streaming pass each, onto the merged tree (OCI image-spec layer.md).

Per layer: the blob's bytes are hashed (its descriptor digest) while they feed the
decompressor, sniffed from the bytes (gzip, zstd or plain), and the uncompressed tar is hashed
(the config's ``diff_id``) while :mod:`._tar` walks it. Whiteouts (``.wh.name``) delete from
lower layers only and an opaque marker (``.wh..wh..opq``) hides everything lower in its
directory whatever the tar order: both are applied as "prune what this layer did not write",
so a marker listed after its siblings still spares them. Hardlinks copy the target's entry and
content reference at the time they appear.

Content: for a plain tar in a file we own, a file's bytes stay where they are (blob offset).
For compressed layers, candidate files (ELF, ``#!`` scripts, the few /etc files a loader
reads, anything up to 4 KiB) are copied into the archive's content store as they stream by;
the rest get a :class:`~.rootfs.Deferred` reference, copied on first ``open`` by inflating
that layer again up to the file. Every regular file's first 4 bytes are kept either way
(:meth:`~.rootfs.ImageRootFS.head`), so finding the ELF files never triggers that.
"""

from __future__ import annotations

import hashlib
import logging
import os
import posixpath
import zlib
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO, cast

import zstandard

from linkcheck.errors import ImageFormatError, IntegrityError, UnsafeImageError
from linkcheck.image._hashing import Sha256Stream
from linkcheck.image._io import CHUNK, Compression, FileWindow
from linkcheck.image._tar import Budget, Feed, TarMember, iter_members
from linkcheck.image.rootfs import Deferred, ImageRootFS, Stored
from linkcheck.model import FileEntry, FileType

try:  # ISA-L inflates ~2-3x faster than zlib (FACTS.md, "Cost of reading")
    from isal import igzip as _gzip
    from isal.igzip_lib import IsalError

    _INFLATE_ERROR = cast("type[Exception]", IsalError)  # typed as an instance in its stub
except ImportError:  # pragma: no cover - isal is a declared dependency
    import gzip as _gzip  # type: ignore[no-redef]

    _INFLATE_ERROR = EOFError  # stdlib gzip raises only errors STREAM_ERRORS lists

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from linkcheck.image._container import Member
    from linkcheck.image._hashing import Updatable

__all__ = [
    "STREAM_ERRORS",
    "ContentStore",
    "LayerBlob",
    "apply_layer",
    "decompressed_reader",
    "read_deferred",
]

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
_TYPES = {
    "0": FileType.REGULAR,
    "7": FileType.REGULAR,  # contiguous file: a regular file to everyone but old Unix
    "2": FileType.SYMLINK,
    "3": FileType.CHAR,
    "4": FileType.BLOCK,
    "5": FileType.DIRECTORY,
    "6": FileType.FIFO,
}
_ETC_NAMES = frozenset(
    {"ld.so.cache", "ld.so.conf", "os-release", "passwd", "group", "nsswitch.conf",
     "alpine-release", "debian_version", "lsb-release", "redhat-release", "system-release"}
)  # fmt: skip
_MAGICS = (b"\x7fELF", b"#!")
# Tiny files are kept too: linker scripts named like libraries (libc.so is text), configs.
# Fetching one later would mean inflating its layer again up to that point.
SMALL_FILE = 4096
PATH_MAX = 4096  # linux/include/uapi/linux/limits.h; no real image has longer names


@dataclass(frozen=True, slots=True)
class LayerBlob:
    """One layer as the archive knows it: where its bytes are and what they must hash to."""

    index: int
    member: Member
    digest: str | None  # the descriptor digest ("sha256:..."); None in legacy docker-archive
    diff_id: str
    compression: Compression

    @property
    def label(self) -> str:
        shown = self.digest or self.diff_id
        return f"layer {self.index} ({shown[:19]}...)"


class ContentStore:
    """An append-only temp file of candidate file contents, indexed by offset."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._end = 0

    def append(self, chunks: Iterable[bytes]) -> Stored:
        start = self._end
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                written = os.pwrite(self.fd, view, self._end)
                self._end += written
                view = view[written:]
        return Stored(self.fd, start, self._end - start)


class _HashingReader(FileWindow):
    """The raw blob, hashed as the decompressor pulls it."""

    def __init__(self, member: Member, digest: Updatable | None) -> None:
        super().__init__(member.fd, member.offset, member.size)
        self._digest = digest

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = super().readinto(buffer)
        if self._digest is not None and n:
            self._digest.update(bytes(memoryview(buffer)[:n]))  # the caller reuses buffer
        return n

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


def _decompressed(raw: _HashingReader, compression: Compression) -> Callable[[int], bytes]:
    source = cast("BinaryIO", raw)
    if compression is Compression.GZIP:
        gz = cast("BinaryIO", _gzip.GzipFile(fileobj=source, mode="rb"))  # type: ignore[no-untyped-call,unused-ignore]
        return gz.read
    if compression is Compression.ZSTD:
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
        return reader.read
    return raw.read


# isal raises its own IsalError (not an OSError) for a bad deflate block: found by fuzzing
STREAM_ERRORS = (OSError, EOFError, zlib.error, _INFLATE_ERROR, zstandard.ZstdError)


def decompressed_reader(fd: int, size: int, compression: Compression) -> Callable[[int], bytes]:
    """Inflate the first ``size`` bytes of ``fd`` (an outer ``.tar.gz``), unhashed."""
    from linkcheck.image._container import Member

    return _decompressed(_HashingReader(Member(fd, 0, size), None), compression)


def apply_layer(
    blob: LayerBlob,
    tree: ImageRootFS,
    store: ContentStore,
    budget: Budget,
    *,
    max_entries: int,
) -> None:
    """Read ``blob`` once, verify both digests, and apply it onto ``tree``."""
    plain = blob.compression is Compression.NONE
    blob_sha = None if plain else Sha256Stream()  # plain: the blob digest is the diff_id
    tar_sha = Sha256Stream()
    raw = _HashingReader(blob.member, blob_sha)
    feed = Feed(_decompressed(raw, blob.compression), blob.label, budget=budget, digest=tar_sha)
    applier = _Applier(blob, tree, store, feed, max_entries)
    try:
        for member in iter_members(feed, blob.label):
            applier.apply(member)
        raw.drain()
    except (ImageFormatError, *STREAM_ERRORS) as e:
        # A flipped byte usually breaks inflate or a tar header before the digest is known:
        # say "this blob is not the one the manifest names" when that is the cause.
        _check_whole_blob(blob, e)
        if isinstance(e, ImageFormatError):
            raise
        raise ImageFormatError(f"{blob.label}: corrupt or truncated layer ({e})") from e
    finally:
        for stream in (blob_sha, tar_sha):
            if stream is not None:
                stream.close()
    diff_id = "sha256:" + tar_sha.hexdigest()
    digest = diff_id if blob_sha is None else "sha256:" + blob_sha.hexdigest()
    if blob.digest is not None and blob.digest.startswith("sha256:") and digest != blob.digest:
        raise IntegrityError(f"{blob.label}: blob {blob.digest} has digest {digest}")
    if diff_id != blob.diff_id:
        raise IntegrityError(
            f"{blob.label}: uncompressed content has digest {diff_id},"
            f" but the config's diff_id is {blob.diff_id}"
        )


def _check_whole_blob(blob: LayerBlob, cause: BaseException) -> None:
    expected = blob.digest or (blob.diff_id if blob.compression is Compression.NONE else None)
    if expected is None or not expected.startswith("sha256:"):
        return
    sha = hashlib.sha256()
    _HashingReader(blob.member, sha).drain()
    actual = "sha256:" + sha.hexdigest()
    if actual != expected:
        raise IntegrityError(f"{blob.label}: blob {expected} has digest {actual}") from cause


def clean_member_path(name: str, label: str) -> str:
    """The absolute in-image path of a tar member name; escapes are hostile."""
    if len(name) > PATH_MAX:  # also bounds the parents made for it (no quadratic blow-up)
        raise UnsafeImageError(f"{label}: tar path of {len(name)} bytes (limit {PATH_MAX})")
    if name.startswith("/") or "\0" in name:
        raise UnsafeImageError(f"{label}: unsafe tar path {name!r}")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnsafeImageError(f"{label}: unsafe tar path {name!r}")
    return "/" + "/".join(parts)


def _wants_content(path: str, head: bytes) -> bool:
    if head.startswith(_MAGICS):
        return True
    if path.startswith("/etc/"):
        base = posixpath.basename(path)
        return (
            base in _ETC_NAMES
            or base.startswith(("ld-musl-", "ld.so.conf"))
            or path.startswith("/etc/ld.so.conf.d/")
        )
    return path == "/usr/lib/os-release"


class _Applier:
    def __init__(
        self, blob: LayerBlob, tree: ImageRootFS, store: ContentStore, feed: Feed, cap: int
    ) -> None:
        self.blob, self.tree, self.store, self.feed, self.cap = blob, tree, store, feed, cap
        self.touched: set[str] = set()  # what this layer wrote: whiteouts spare it

    def apply(self, m: TarMember) -> None:
        label = self.blob.label
        path = clean_member_path(m.name, label)
        parent, base = posixpath.split(path)
        if base.startswith(WHITEOUT_PREFIX):
            self._whiteout(path, parent, base)
            return
        if len(self.tree) >= self.cap:
            raise UnsafeImageError(f"{label}: more than {self.cap} files in the image")
        self.tree.ensure_dirs(parent, self.blob.index, self.touched)
        if m.kind == "1":
            self._hardlink(path, m)
        else:
            kind = _TYPES.get(m.kind)
            if kind is None:
                log.warning("%s: skipping %r of unknown tar type %r", label, path, m.kind)
                return
            link = m.linkname if kind is FileType.SYMLINK else None
            if link is not None and len(link) > PATH_MAX:
                raise UnsafeImageError(f"{label}: symlink {path!r} target over {PATH_MAX} bytes")
            size = m.size if kind is FileType.REGULAR else 0
            entry = FileEntry(path, kind, m.mode, m.uid, m.gid, size, link, self.blob.index)
            if kind is FileType.REGULAR and m.size:
                head = self.feed.peek(min(4, m.size))
                self.tree.put(entry, self._content(path, m, head), head)
            else:
                self.tree.put(entry)
        self.touched.add(path)

    def _whiteout(self, path: str, parent: str, base: str) -> None:
        if base == OPAQUE:
            self.tree.prune(parent, self.touched, include_self=False)
            return
        if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
            return  # other AUFS metadata (.wh..wh.plnk, .wh..wh.aufs): not part of the tree
        name = base[len(WHITEOUT_PREFIX) :]
        if name in ("", ".", ".."):
            raise UnsafeImageError(f"{self.blob.label}: whiteout with an empty name {path!r}")
        self.tree.prune(posixpath.join(parent, name), self.touched, include_self=True)

    def _hardlink(self, path: str, m: TarMember) -> None:
        target = clean_member_path(m.linkname, self.blob.label)
        source = self.tree.lookup(target)
        if source is None or source.type is FileType.DIRECTORY:
            what = "missing" if source is None else "directory"
            raise ImageFormatError(
                f"{self.blob.label}: hardlink {path!r} points to {what} {target!r}"
            )
        # bound to the content as it is now: a later whiteout of the target keeps it
        entry = replace(source, path=path, layer=self.blob.index)
        self.tree.put(entry, *self.tree.content_of(target))

    def _content(self, path: str, m: TarMember, head: bytes) -> Stored | Deferred:
        if self.blob.compression is Compression.NONE:  # bytes stay in the blob, seekable
            member = self.blob.member
            return Stored(member.fd, member.offset + m.data_offset, m.size)
        if m.size <= SMALL_FILE or _wants_content(path, head):
            return self.store.append(self.feed.chunks(m.size))
        return Deferred(self.blob.index, m.data_offset, m.size)


def read_deferred(blob: LayerBlob, ref: Deferred, store: ContentStore) -> Stored:
    """Copy one deferred file into the store by re-reading its (already verified) layer."""
    raw = _HashingReader(blob.member, None)
    feed = Feed(_decompressed(raw, blob.compression), blob.label)
    try:
        feed.skip(ref.offset)
        return store.append(feed.chunks(ref.size))
    except STREAM_ERRORS as e:
        raise ImageFormatError(f"{blob.label}: corrupt or truncated layer ({e})") from e
