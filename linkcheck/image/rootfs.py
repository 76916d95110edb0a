"""The merged root filesystem of an image: every layer applied, nothing on the host.

A tree of :class:`~linkcheck.model.FileEntry` (metadata only) plus, for regular files, where
their bytes are: a byte range of a file the archive owns (an uncompressed layer blob, or the
archive's content store), or a *deferred* reference (layer, offset in its uncompressed tar)
that is copied into the content store the first time someone opens it.

Lookups go through the shared in-root resolver (``_resolve``), so this tree and
:class:`~linkcheck.image.dirfs.DirFileSystem` follow symlinks identically.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, BinaryIO

from linkcheck.image._io import open_window
from linkcheck.image._resolve import resolve_path
from linkcheck.model import FileEntry, FileType, Resolution

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from linkcheck.model import FileSystem

__all__ = ["Deferred", "ImageRootFS", "Stored"]


@dataclass(frozen=True, slots=True)
class Stored:
    """File bytes at ``offset`` of the open descriptor ``fd`` (owned by the archive)."""

    fd: int
    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Deferred:
    """File bytes at ``offset`` of layer ``layer``'s uncompressed tar, not copied yet."""

    layer: int
    offset: int
    size: int


Content = Stored | Deferred


def _root_entry() -> FileEntry:
    return FileEntry("/", FileType.DIRECTORY, 0o755, 0, 0, 0, None, None)


class ImageRootFS:
    """The merged tree; implements :class:`linkcheck.model.FileSystem`."""

    def __init__(self, materialize: Callable[[Deferred], Stored]) -> None:
        self._materialize = materialize
        self._entries: dict[str, FileEntry] = {"/": _root_entry()}
        self._children: dict[str, set[str]] = {"/": set()}
        self._content: dict[str, Content] = {}
        self._heads: dict[str, bytes] = {}  # first bytes of each regular file (magic)

    def __len__(self) -> int:
        return len(self._entries)

    # -- reading (the FileSystem protocol) --------------------------------------------------

    def lookup(self, path: str) -> FileEntry | None:
        """The entry stored at canonical ``path``, without following anything."""
        return self._entries.get(path)

    def resolve(self, path: str, *, follow_final: bool = True) -> Resolution:
        return resolve_path(path, self._entries.get, follow_final=follow_final)

    def _stored(self, path: str) -> Stored:
        res = self.resolve(path)
        if res.entry is None or res.entry.type is not FileType.REGULAR:
            raise FileNotFoundError(f"no regular file at {path!r} in the image")
        content = self._content.get(res.real_path)
        if content is None:  # an empty file, or a hardlink to a device: no bytes
            return Stored(-1, 0, 0)
        if isinstance(content, Deferred):
            content = self._materialize(content)
            self._content[res.real_path] = content
        return content

    def head(self, path: str) -> bytes:
        """The first (up to 4) bytes of the regular file at ``path``, without any I/O.

        Kept while the layers streamed by, so a caller can tell ELF (``\\x7fELF``) and
        scripts (``#!``) from other files without opening, and so without re-reading a
        compressed layer for a file that is neither. ``b""`` when there is no such file.
        """
        res = self.resolve(path)
        if res.entry is None or res.entry.type is not FileType.REGULAR:
            return b""
        return self._heads.get(res.real_path, b"")

    def open(self, path: str) -> BinaryIO:
        st = self._stored(path)
        return open_window(st.fd, st.offset, st.size)

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        with self.open(path) as f:
            return f.read() if limit is None else f.read(limit)

    def listdir(self, path: str) -> tuple[str, ...]:
        res = self.resolve(path)
        if res.entry is None or res.entry.type is not FileType.DIRECTORY:
            return ()
        return tuple(sorted(self._children.get(res.real_path, ())))

    def walk(self) -> Iterator[FileEntry]:
        """Every entry, depth first with children sorted by name (parents first)."""
        stack = ["/"]
        while stack:
            path = stack.pop()
            yield self._entries[path]
            names = self._children.get(path)
            if names:
                base = "" if path == "/" else path
                stack.extend(f"{base}/{n}" for n in sorted(names, reverse=True))

    # -- building (used by the layer applier) -----------------------------------------------

    def put(self, entry: FileEntry, content: Content | None = None, head: bytes = b"") -> None:
        """Add ``entry``; a directory over a directory merges, anything else replaces."""
        path = entry.path
        old = self._entries.get(path)
        if path == "/":
            if entry.type is FileType.DIRECTORY:  # "./" in a layer: new root metadata
                self._entries["/"] = replace(entry, size=0)
            return
        if old is not None and not (
            old.type is FileType.DIRECTORY and entry.type is FileType.DIRECTORY
        ):
            self.remove(path)
        self._entries[path] = entry
        if entry.type is FileType.DIRECTORY:
            self._children.setdefault(path, set())
        if content is not None:
            self._content[path] = content
        if head:
            self._heads[path] = head
        self._children[posixpath.dirname(path)].add(posixpath.basename(path))

    def content_of(self, path: str) -> tuple[Content | None, bytes]:
        return self._content.get(path), self._heads.get(path, b"")

    def ensure_dirs(self, path: str, layer: int, touched: set[str]) -> None:
        """Make ``path`` and its parents directories (a layer may omit parent entries).

        A parent that is a file or symlink in a lower layer is replaced: each layer is
        unpacked into its own directory, so overlayfs shows the upper directory.
        """
        if path == "/":
            return
        parts = path.strip("/").split("/")
        current = ""
        for part in parts:
            current = f"{current}/{part}"
            old = self._entries.get(current)
            if old is None or old.type is not FileType.DIRECTORY:
                self.put(FileEntry(current, FileType.DIRECTORY, 0o755, 0, 0, 0, None, layer))
            touched.add(current)

    def remove(self, path: str) -> None:
        """Delete ``path`` and everything below it (iterative: trees can be deep)."""
        if path == "/" or path not in self._entries:
            return
        self._children[posixpath.dirname(path)].discard(posixpath.basename(path))
        stack = [path]
        while stack:
            current = stack.pop()
            names = self._children.pop(current, ())
            stack.extend(f"{current}/{n}" for n in names)
            self._content.pop(current, None)
            self._heads.pop(current, None)
            del self._entries[current]

    def prune(self, path: str, keep: set[str], *, include_self: bool) -> None:
        """Delete what lower layers put at/below ``path``; ``keep`` is this layer's own."""
        if path not in self._entries:
            return
        stack = [(path, include_self)]
        while stack:
            current, check = stack.pop()
            if check and current not in keep:
                self.remove(current)
                continue
            base = "" if current == "/" else current
            stack.extend((f"{base}/{n}", True) for n in self._children.get(current, ()))


if TYPE_CHECKING:  # mypy proves the class satisfies the protocol the analysis codes against

    def _implements_filesystem(fs: ImageRootFS) -> FileSystem:
        return fs
