"""``parse_elf``: bytes or a stream in, a typed :class:`ElfInfo` out, an :class:`ElfError` on
anything malformed.

This is the one choke point for ELF errors: every problem found while reading is raised as
:class:`linkcheck.errors.ElfError` naming the bad value, and any other exception a hostile
file manages to provoke in the readers below is wrapped there too.
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

from linkcheck.elf._dynamic import read_dynamic
from linkcheck.elf._reader import (
    ELF_MAGIC,
    MAX_INTERP,
    PT_INTERP,
    Reader,
    read_header,
    read_program_headers,
)
from linkcheck.elf.gobuildinfo import find_go_buildinfo
from linkcheck.elf.info import ElfInfo
from linkcheck.errors import ElfError

if TYPE_CHECKING:
    from typing import BinaryIO

    from linkcheck.elf._reader import ProgramHeader

__all__ = ["is_elf", "parse_elf"]


def is_elf(header: bytes) -> bool:
    """True when ``header`` (the first bytes of a file, at least 4) starts with the ELF magic."""
    return header[:4] == ELF_MAGIC


def _interp(reader: Reader, phdrs: tuple[ProgramHeader, ...]) -> str | None:
    segment = next((ph for ph in phdrs if ph.p_type == PT_INTERP), None)
    if segment is None:
        return None
    if not 0 < segment.p_filesz <= MAX_INTERP:
        raise reader.error(f"PT_INTERP size {segment.p_filesz} is out of range")
    raw = reader.read(segment.p_offset, segment.p_filesz, "PT_INTERP")
    # The kernel refuses an interpreter path that is not NUL-terminated (fs/binfmt_elf.c,
    # load_elf_binary: "elf_interpreter[p_filesz - 1] != '\0'" -> ENOEXEC).
    if not raw.endswith(b"\0"):
        raise reader.error(f"PT_INTERP {raw[:64]!r} is not NUL-terminated")
    return raw[:-1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _parse(reader: Reader) -> ElfInfo:
    header = read_header(reader)
    phdrs = read_program_headers(reader, header)
    dynamic = read_dynamic(reader, header, phdrs)
    return ElfInfo(
        elf_class=header.elf_class,
        little_endian=header.little_endian,
        machine=header.machine,
        osabi=header.osabi,
        e_type=header.e_type,
        interp=_interp(reader, phdrs),
        has_dynamic=dynamic is not None,
        needed=dynamic.needed if dynamic else (),
        soname=dynamic.soname if dynamic else None,
        rpath=dynamic.rpath if dynamic else None,
        runpath=dynamic.runpath if dynamic else None,
        flags_1=dynamic.flags_1 if dynamic else 0,
        version_needs=dynamic.version_needs if dynamic else (),
        version_defs=dynamic.version_defs if dynamic else (),
        undefined_symbols=dynamic.undefined_symbols if dynamic else (),
        defined_symbols=dynamic.defined_symbols if dynamic else frozenset(),
        go=find_go_buildinfo(reader, header, phdrs),
    )


def parse_elf(source: bytes | BinaryIO, *, name: str = "") -> ElfInfo:
    """Read the loader-relevant facts of one ELF file.

    ``source`` is the whole file as bytes, or a seekable binary stream (only the parts the
    loader reads are read). ``name`` is used in error messages. Raises :class:`ElfError` for
    anything that is not a well-formed ELF file; ``OSError`` from the stream passes through.
    """
    reader = Reader(source, name)
    try:
        return _parse(reader)
    except (ElfError, OSError):
        raise
    except (struct.error, ValueError, IndexError, OverflowError, MemoryError) as e:
        raise reader.error(f"malformed ELF data ({type(e).__name__}: {e})") from e
