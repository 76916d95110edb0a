"""A :class:`~linkcheck.model.FileSystem` over a real, already unpacked root directory.

Used by tests (``umoci unpack`` output, a hand-made tree) and by anyone who has a rootfs on
disk. Lookups go through the same in-root resolver as the image tree, so a symlink such as
``/lib -> /usr/lib`` is followed inside ``root`` and never on the host; the host is only ever
asked to ``lstat``/open a path whose parents were just checked to be real directories.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from linkcheck.image._resolve import resolve_path, split_path
from linkcheck.model import FileEntry, FileType, Resolution

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from linkcheck.model import FileSystem

__all__ = ["DirFileSystem"]

_TYPES = {
    stat.S_IFREG: FileType.REGULAR,
    stat.S_IFDIR: FileType.DIRECTORY,
    stat.S_IFLNK: FileType.SYMLINK,
    stat.S_IFCHR: FileType.CHAR,
    stat.S_IFBLK: FileType.BLOCK,
    stat.S_IFIFO: FileType.FIFO,
}


class DirFileSystem:
    """The tree under ``root`` seen as an image root filesystem (read-only)."""

    def __init__(self, root: Path | str) -> None:
        self._root = os.fspath(root)
        if not os.path.isdir(self._root):
            raise NotADirectoryError(f"not a directory: {self._root}")

    def __repr__(self) -> str:
        return f"DirFileSystem({self._root!r})"

    def _host(self, canonical: str) -> str:
        return os.path.join(self._root, canonical.lstrip("/"))

    def _lookup(self, canonical: str) -> FileEntry | None:
        try:
            st = os.lstat(self._host(canonical))
        except (FileNotFoundError, NotADirectoryError):
            return None
        kind = _TYPES.get(stat.S_IFMT(st.st_mode))
        if kind is None:  # a socket: nothing an image can carry
            return None
        link = os.readlink(self._host(canonical)) if kind is FileType.SYMLINK else None
        return FileEntry(
            path=canonical,
            type=kind,
            mode=stat.S_IMODE(st.st_mode),
            uid=st.st_uid,
            gid=st.st_gid,
            size=st.st_size if kind is FileType.REGULAR else 0,
            linkname=link,
            layer=None,
        )

    def resolve(self, path: str, *, follow_final: bool = True) -> Resolution:
        return resolve_path(path, self._lookup, follow_final=follow_final)

    def _regular(self, path: str) -> str:
        res = self.resolve(path)
        if res.entry is None or res.entry.type is not FileType.REGULAR:
            raise FileNotFoundError(f"no regular file at {path!r} in {self._root}")
        return self._host(res.real_path)

    def open(self, path: str) -> BinaryIO:
        # O_NOFOLLOW: the last component was resolved in-root; never let the host follow it.
        fd = os.open(self._regular(path), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        with self.open(path) as f:
            return f.read() if limit is None else f.read(limit)

    def listdir(self, path: str) -> tuple[str, ...]:
        res = self.resolve(path)
        if res.entry is None or res.entry.type is not FileType.DIRECTORY:
            return ()
        return tuple(sorted(os.listdir(self._host(res.real_path))))

    def walk(self) -> Iterator[FileEntry]:
        """Every entry, depth first with children sorted by name (parents first)."""
        root = self._lookup("/")
        if root is None:
            return
        stack = [root]
        while stack:
            entry = stack.pop()
            yield entry
            if entry.type is FileType.DIRECTORY:
                base = split_path(entry.path)
                names = sorted(os.listdir(self._host(entry.path)), reverse=True)
                for name in names:
                    child = self._lookup("/" + "/".join([*base, name]))
                    if child is not None:
                        stack.append(child)


if TYPE_CHECKING:  # mypy proves the class satisfies the protocol the analysis codes against

    def _implements_filesystem(fs: DirFileSystem) -> FileSystem:
        return fs
