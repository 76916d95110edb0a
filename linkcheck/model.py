"""Frozen dataclasses, enums and protocols shared by every part of linkcheck.

Nothing here does I/O. ``image/`` produces these, ``loader/``/``checks/`` consume them through
the small :class:`FileSystem` protocol, so tests can hand the analysis a real directory or a
fake instead of an image.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO

__all__ = [
    "BaseInfo",
    "DetailValue",
    "EntrypointInfo",
    "ExecutedFile",
    "ImageInfo",
    "LibraryNode",
    "LibraryStatus",
    "PlatformReport",
    "Report",
    "Verdict",
    "FileEntry",
    "FileSystem",
    "FileType",
    "Finding",
    "ImageConfig",
    "Libc",
    "Platform",
    "Resolution",
    "Severity",
]


class FileType(enum.Enum):
    """Tar member types as they survive in the merged tree (hardlinks become REGULAR)."""

    REGULAR = "file"
    DIRECTORY = "dir"
    SYMLINK = "symlink"
    CHAR = "char"
    BLOCK = "block"
    FIFO = "fifo"


class Libc(enum.Enum):
    GLIBC = "glibc"
    MUSL = "musl"
    NONE = "none"  # a static base: no loader, no libc
    UNKNOWN = "unknown"


class Severity(enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Platform:
    """An OCI platform: ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str | None = None

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def matches(self, other: Platform) -> bool:
        """True when ``other`` (what a user asked for) selects this platform.

        A request without a variant matches any variant (``linux/arm64`` selects
        ``linux/arm64/v8``), as containerd's platform matcher does.
        """
        if (self.os, self.architecture) != (other.os, other.architecture):
            return False
        return other.variant is None or other.variant == self.variant


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an OCI/Docker image config that decide what a runtime execs."""

    platform: Platform
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    env: tuple[str, ...]  # "KEY=value", in config order
    working_dir: str  # "" when unset ("/" for the runtime)
    user: str  # "" when unset (root)
    labels: tuple[tuple[str, str], ...] = ()

    def env_value(self, key: str) -> str | None:
        """The last value of ``key`` in Env (later entries win, as in runc)."""
        found: str | None = None
        for item in self.env:
            name, sep, value = item.partition("=")
            if sep and name == key:
                found = value
        return found


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One node of the merged image tree."""

    path: str  # absolute and clean inside the image: "/usr/bin/app"
    type: FileType
    mode: int  # permission bits including setuid/setgid/sticky (0o7777)
    uid: int
    gid: int
    size: int
    linkname: str | None  # symlink target as stored; None for other types
    layer: int | None  # index of the layer that provided it (0 = bottom), None if synthetic


@dataclass(frozen=True, slots=True)
class Resolution:
    """The result of looking a path up inside the image root."""

    path: str  # what was asked
    real_path: str  # after every symlink was followed (as far as it got)
    entry: FileEntry | None  # None: not found, or the lookup failed (see ``error``)
    hops: tuple[str, ...]  # each link followed, as "/lib64 -> usr/lib64"
    error: str | None = None  # "symlink loop", "too many levels of symbolic links", ...

    @property
    def found(self) -> bool:
        return self.entry is not None


class FileSystem(Protocol):
    """The read-only view of a root filesystem that the analysis works on.

    Implemented by the merged image tree (``linkcheck.image``) and by a plain directory
    (``linkcheck.image.dirfs``), so the loader can be tested on either.
    """

    def resolve(self, path: str, *, follow_final: bool = True) -> Resolution:
        """Look ``path`` up component by component, never leaving the root.

        Relative paths are taken from "/". Symlinks in intermediate components are always
        followed; the last one only when ``follow_final``.
        """
        ...

    def read_bytes(self, path: str, *, limit: int | None = None) -> bytes:
        """Content of the regular file at ``path`` (resolved), at most ``limit`` bytes.

        Raises ``FileNotFoundError`` when there is no regular file there.
        """
        ...

    def open(self, path: str) -> BinaryIO:
        """A seekable binary stream of the regular file at ``path`` (resolved)."""
        ...

    def listdir(self, path: str) -> tuple[str, ...]:
        """Names in the directory at ``path`` (resolved), sorted; () if not a directory."""
        ...

    def walk(self) -> Iterator[FileEntry]:
        """Every entry of the tree, parents before children, in sorted path order."""
        ...


DetailValue = str | int | bool | None | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing) about an image or a Dockerfile."""

    rule: str  # stable id, e.g. "missing-library"
    severity: Severity
    path: str | None  # path in the image the finding is about
    message: str  # one line a person understands
    hint: str | None  # the fix
    detail: tuple[tuple[str, DetailValue], ...] = ()

    def detail_dict(self) -> dict[str, DetailValue]:
        return dict(self.detail)


# --- Analysis report -------------------------------------------------------------------------
# What ``linkcheck.analyze`` returns; rendered by ``linkcheck.render`` (text, JSON
# "linkcheck/report/v1"). Plain data: the analysis fills it, renderers only read it.


class Verdict(enum.Enum):
    """Per platform: FAIL with any error finding, WARN with any warning, else PASS."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @classmethod
    def of(cls, findings: tuple[Finding, ...]) -> Verdict:
        severities = {f.severity for f in findings}
        if Severity.ERROR in severities:
            return cls.FAIL
        if Severity.WARNING in severities:
            return cls.WARN
        return cls.PASS


class LibraryStatus(enum.Enum):
    """How the loader fared with one DT_NEEDED entry (one node of the library tree)."""

    FOUND = "found"
    NOT_FOUND = "not-found"
    WRONG_CLASS_ONLY = "wrong-class-only"  # only files of another ELF class/machine
    STALE_CACHE = "stale-cache"  # only in an ld.so.conf directory, not in ld.so.cache
    INVALID = "invalid"  # the file found is not a loadable ELF


@dataclass(frozen=True, slots=True)
class LibraryNode:
    """One node of the library tree, as lddtree shows it.

    The root is the executable (``name`` = its path). A library appears with its children
    under the first object that needed it; later mentions are leaves with ``repeated``.
    """

    name: str  # the DT_NEEDED name (the executable's path for the root)
    status: LibraryStatus
    path: str | None  # where the loader opened it
    real_path: str | None  # after symlinks
    source: str | None  # "DT_RUNPATH", "ld.so.cache", "default", "already-loaded", ...
    layer: int | None
    children: tuple[LibraryNode, ...] = ()
    repeated: bool = False


@dataclass(frozen=True, slots=True)
class ExecutedFile:
    """One file exec'd on the way to ``main``: the entrypoint, a ``#!`` interpreter, env's X."""

    role: str  # "entrypoint", "interpreter", "env-program", "shell-command"
    name: str  # as asked (argv[0], the #! path, env's argument)
    path: str | None  # the path exec'd, after the PATH search
    real_path: str | None  # after symlinks
    kind: str  # "elf", "script", "malformed-elf", "other", "missing", "directory", ...
    hops: tuple[str, ...]
    layer: int | None
    linkage: str | None = None  # "static", "static-pie", "dynamic" for ELF files
    arch: str | None = None  # ELF machine as an OCI architecture
    interpreter: str | None = None  # PT_INTERP, or the #! interpreter of a script
    libc: Libc | None = None  # whose loader runs it (from PT_INTERP)
    go_version: str | None = None
    cgo_enabled: bool | None = None
    libraries: LibraryNode | None = None  # the tree, for ELF files


@dataclass(frozen=True, slots=True)
class EntrypointInfo:
    argv: tuple[str, ...]
    user: str  # as configured ("" = root)
    working_dir: str
    path: str | None  # what argv[0] resolved to, None if nothing
    chain: tuple[ExecutedFile, ...]  # the entrypoint then each interpreter it needs


@dataclass(frozen=True, slots=True)
class BaseInfo:
    """What the image offers as a base: its libc, loaders and shared libraries."""

    libc: Libc  # NONE: no loader, no libc (static base)
    libc_version: str | None  # "2.36", "1.2.3"; None when unknown
    interpreters: tuple[str, ...]  # loader paths present: "/lib64/ld-linux-x86-64.so.2"
    sonames: tuple[str, ...]  # sonames the loader finds without help (cache + default dirs)
    os_release: str | None  # PRETTY_NAME from /etc/os-release


@dataclass(frozen=True, slots=True)
class PlatformReport:
    platform: Platform
    verdict: Verdict
    base: BaseInfo
    entrypoint: EntrypointInfo
    findings: tuple[Finding, ...]
    scanned: int = 0  # other ELF files checked by scan_all
    digest: str | None = None  # manifest digest of this platform's image


@dataclass(frozen=True, slots=True)
class ImageInfo:
    source: str  # the path given, or "-"/"<stream>"
    names: tuple[str, ...]  # tags of the analysed image
    digest: str | None  # manifest digest


@dataclass(frozen=True, slots=True)
class Report:
    image: ImageInfo
    platforms: tuple[PlatformReport, ...]

    @property
    def verdict(self) -> Verdict:
        """The worst verdict over all platforms."""
        order = (Verdict.PASS, Verdict.WARN, Verdict.FAIL)
        return max((p.verdict for p in self.platforms), key=order.index, default=Verdict.PASS)
