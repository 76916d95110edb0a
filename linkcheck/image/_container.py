"""Where an image's files live: an OCI layout directory or an (uncompressed) tarball.

Both answer one question, ``member(name) -> (fd, offset, size)``, so the format code never
touches the host filesystem with a name taken from the image. A tarball is indexed once
(headers only, seeking past data); its symlinks and hardlinks (``docker save`` links duplicate
``layer.tar`` files) are followed inside the archive only.
"""

from __future__ import annotations

import os
import posixpath
import stat
import tarfile
from dataclasses import dataclass

from linkcheck.errors import ImageFormatError, UnsafeImageError

__all__ = ["Container", "DirContainer", "Member", "TarContainer"]

_MAX_OUTER_MEMBERS = 1_000_000
_MAX_LINK_HOPS = 16


@dataclass(frozen=True, slots=True)
class Member:
    fd: int
    offset: int
    size: int


class Container:
    """Base: a set of named byte ranges, plus the descriptors to close."""

    label: str

    def __init__(self) -> None:
        self._fds: list[int] = []

    def member(self, name: str) -> Member | None:
        raise NotImplementedError

    def has(self, name: str) -> bool:
        return self.member(name) is not None

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds.clear()


def _clean(name: str) -> str | None:
    """An archive-relative name, or None when it would leave the archive."""
    norm = posixpath.normpath("/" + name).lstrip("/")
    if ".." in name.split("/") or not norm or norm == ".":
        return None
    return norm


class DirContainer(Container):
    """An image directory on the host (OCI layout, or an unpacked ``docker save``).

    A symlink inside it is followed only when it is relative and stays inside the directory
    (``docker save`` links duplicate layers as ``<id>/layer.tar -> ../<other>/layer.tar``);
    anything else is refused, so an image can never make us read a host file.
    """

    def __init__(self, root: str) -> None:
        super().__init__()
        self._root = root
        self.label = root
        self._cache: dict[str, Member | None] = {}

    def member(self, name: str) -> Member | None:
        clean = _clean(name)
        if clean is None:
            return None
        if clean not in self._cache:
            self._cache[clean] = self._open(clean)
        return self._cache[clean]

    def _locate(self, clean: str) -> str | None:
        """The host path of ``clean`` after in-directory symlinks, or None if absent."""
        parts, done, hops = clean.split("/"), "", 0
        while parts:
            part = parts.pop(0)
            current = f"{done}/{part}".lstrip("/")
            path = os.path.join(self._root, current)
            try:
                st = os.lstat(path)
            except OSError:
                return None
            if not stat.S_ISLNK(st.st_mode):
                done = current
                continue
            target = os.readlink(path)
            joined = posixpath.normpath(posixpath.join(done, target))
            hops += 1
            if target.startswith("/") or joined.startswith("..") or hops > _MAX_LINK_HOPS:
                raise UnsafeImageError(f"{self._root}: '{clean}' links outside the directory")
            parts = [p for p in joined.split("/") if p not in ("", ".")] + parts
            done = ""
        return os.path.join(self._root, done)

    def _open(self, clean: str) -> Member | None:
        path = self._locate(clean)
        if path is None or not os.path.isfile(path):
            return None
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
        except OSError as e:
            raise ImageFormatError(f"{self._root}: cannot open '{clean}': {e.strerror}") from e
        self._fds.append(fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return Member(fd, 0, os.fstat(fd).st_size)


class TarContainer(Container):
    """An uncompressed tarball (docker-archive, oci-archive), indexed by member name."""

    def __init__(self, fd: int, label: str) -> None:
        super().__init__()
        self._fds.append(fd)
        self.label = label
        self._files: dict[str, Member] = {}
        self._links: dict[str, str] = {}
        self._index(fd)

    def _index(self, fd: int) -> None:
        total = os.fstat(fd).st_size
        f = os.fdopen(os.dup(fd), "rb")
        try:
            with tarfile.open(fileobj=f, mode="r:") as tar:
                for count, info in enumerate(tar):
                    if count > _MAX_OUTER_MEMBERS:
                        raise UnsafeImageError(f"{self.label}: more than 1000000 members")
                    self._add(fd, info, total)
        except (tarfile.TarError, OSError, EOFError, ValueError) as e:
            raise ImageFormatError(f"{self.label}: not a readable tar archive ({e})") from e
        finally:
            f.close()

    def _add(self, fd: int, info: tarfile.TarInfo, total: int) -> None:
        name = _clean(info.name)
        if name is None:
            return  # a name we will never ask for cannot hurt
        if info.isreg():
            if info.offset_data + info.size > total:
                raise ImageFormatError(f"{self.label}: truncated archive (member '{name}')")
            self._files[name] = Member(fd, info.offset_data, info.size)
            self._links.pop(name, None)
        elif info.issym():
            target = posixpath.join(posixpath.dirname(name), info.linkname)
            self._links[name] = target
        elif info.islnk():
            self._links[name] = info.linkname

    def member(self, name: str) -> Member | None:
        clean = _clean(name)
        for _ in range(_MAX_LINK_HOPS):
            if clean is None:
                return None
            if clean in self._files:
                return self._files[clean]
            if clean not in self._links:
                return None
            # normpath under "/" clamps ".." at the archive root: a link cannot leave it
            clean = posixpath.normpath("/" + self._links[clean]).lstrip("/") or None
        return None
