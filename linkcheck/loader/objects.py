"""Reading the files the loader and the kernel look at: one parse per file, cached.

:class:`ObjectReader` wraps a :class:`~linkcheck.model.FileSystem` and remembers, per real
path, what the file is (ELF, ``#!`` script, something else) and its parsed
:class:`~linkcheck.elf.info.ElfInfo`. The cache lives on the instance (one per analysed
root filesystem), never at module level, so ``scan_all`` parses each file once however many
objects need it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.elf import parse_elf
from linkcheck.errors import ElfError
from linkcheck.model import FileType

if TYPE_CHECKING:
    from linkcheck.elf.info import ElfInfo
    from linkcheck.model import FileSystem, Resolution

__all__ = ["FileKind", "ObjectFile", "ObjectReader"]

log = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"
# Linux reads this much of a file to pick a binfmt handler (BINPRM_BUF_SIZE, 256 since 5.1).
BINPRM_BUF_SIZE = 256


class FileKind(enum.Enum):
    MISSING = "missing"  # nothing there (or the lookup failed: see Resolution.error)
    DIRECTORY = "directory"
    SPECIAL = "special"  # device, fifo: nothing the kernel can exec
    ELF = "elf"
    MALFORMED_ELF = "malformed-elf"  # ELF magic, but the parser refused it
    SCRIPT = "script"  # starts with "#!"
    OTHER = "other"  # a regular file with neither: ENOEXEC for execve


@dataclass(frozen=True, slots=True)
class ObjectFile:
    """What one path in the image turned out to be."""

    resolution: Resolution
    kind: FileKind
    info: ElfInfo | None = None  # set when kind is ELF
    error: str | None = None  # the parser's message when kind is MALFORMED_ELF
    head: bytes = b""  # the first BINPRM_BUF_SIZE bytes (for #! lines)

    @property
    def real_path(self) -> str:
        return self.resolution.real_path

    @property
    def layer(self) -> int | None:
        entry = self.resolution.entry
        return entry.layer if entry is not None else None


class ObjectReader:
    """Classifies and parses files of one root filesystem, each real path once."""

    def __init__(self, fs: FileSystem) -> None:
        self.fs = fs
        self._by_real_path: dict[str, ObjectFile] = {}

    def read(self, path: str) -> ObjectFile:
        """Look ``path`` up (following symlinks inside the root) and classify what is there."""
        res = self.fs.resolve(path)
        entry = res.entry
        if entry is None:
            return ObjectFile(res, FileKind.MISSING)
        if entry.type is FileType.DIRECTORY:
            return ObjectFile(res, FileKind.DIRECTORY)
        if entry.type is not FileType.REGULAR:
            return ObjectFile(res, FileKind.SPECIAL)
        cached = self._by_real_path.get(res.real_path)
        if cached is None:
            cached = self._classify(res)
            self._by_real_path[res.real_path] = cached
        # Same file, but keep the hops of *this* lookup: they are part of the explanation.
        return ObjectFile(res, cached.kind, cached.info, cached.error, cached.head)

    def _classify(self, res: Resolution) -> ObjectFile:
        try:
            head = self.fs.read_bytes(res.real_path, limit=BINPRM_BUF_SIZE)
        except (FileNotFoundError, OSError) as e:
            log.debug("cannot read %s: %s", res.real_path, e)
            return ObjectFile(res, FileKind.MISSING)
        if head.startswith(b"#!"):
            return ObjectFile(res, FileKind.SCRIPT, head=head)
        if not head.startswith(ELF_MAGIC):
            return ObjectFile(res, FileKind.OTHER, head=head)
        try:
            with self.fs.open(res.real_path) as stream:
                info = parse_elf(stream, name=res.real_path)
        except ElfError as e:
            return ObjectFile(res, FileKind.MALFORMED_ELF, error=str(e), head=head)
        return ObjectFile(res, FileKind.ELF, info=info, head=head)

    def cached(self) -> tuple[ObjectFile, ...]:
        """Every file classified so far, in the order first read."""
        return tuple(self._by_real_path.values())
