"""Bounded random access to the bytes of one ELF file, and its ELF header and program headers.

Everything here is read with :mod:`struct` on hostile bytes: every offset and size is checked
against the file length before it is used, and every problem is an :class:`ElfError` whose
message names the bad value. Layouts are from the System V gABI ("ELF Header", "Program
Header") and glibc's ``elf/elf.h``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.elf.info import ElfClass
from linkcheck.errors import ElfError

if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["ElfHeader", "ProgramHeader", "Reader", "read_header", "read_program_headers"]

ELF_MAGIC = b"\x7fELF"

# Program header types (gABI "Segment Types", elf.h)
PT_LOAD = 1
PT_DYNAMIC = 2
PT_INTERP = 3
PT_NOTE = 4

PF_X = 0x1
PF_W = 0x2

# e_phnum == PN_XNUM: the real count is in sh_info of section header 0 (gABI, "Sections").
PN_XNUM = 0xFFFF

# Refuse absurd sizes before allocating: no real PT_INTERP or string table comes close.
MAX_INTERP = 4096


class Reader:
    """Reads ranges of a byte string or a seekable binary stream, never past its end."""

    def __init__(self, source: bytes | bytearray | memoryview | BinaryIO, name: str) -> None:
        self.name = name or "ELF file"
        if isinstance(source, bytes | bytearray | memoryview):
            self._data: bytes | None = bytes(source)
            self._stream: BinaryIO | None = None
            self.size = len(self._data)
        else:
            self._data = None
            self._stream = source
            self.size = source.seek(0, 2)

    def error(self, message: str) -> ElfError:
        return ElfError(f"{self.name}: {message}")

    def read(self, offset: int, size: int, what: str) -> bytes:
        """Exactly ``size`` bytes at ``offset``, or an ElfError naming ``what``."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise self.error(
                f"{what} at offset {offset:#x} (size {size}) lies outside the file"
                f" ({self.size} bytes)"
            )
        if self._data is not None:
            return self._data[offset : offset + size]
        assert self._stream is not None
        self._stream.seek(offset)
        data = self._stream.read(size)
        if len(data) != size:
            raise self.error(f"short read of {what} at offset {offset:#x}")
        return data

    def read_upto(self, offset: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer at the end of the file)."""
        size = max(0, min(size, self.size - offset))
        return self.read(offset, size, "data") if size else b""


@dataclass(frozen=True, slots=True)
class ElfHeader:
    elf_class: ElfClass
    little_endian: bool
    osabi: int
    e_type: int
    machine: int
    phoff: int
    shoff: int
    phentsize: int
    phnum: int
    shentsize: int
    shnum: int
    shstrndx: int

    @property
    def endian(self) -> str:
        return "<" if self.little_endian else ">"

    @property
    def is64(self) -> bool:
        return self.elf_class is ElfClass.ELFCLASS64


@dataclass(frozen=True, slots=True)
class ProgramHeader:
    p_type: int
    p_flags: int
    p_offset: int
    p_vaddr: int
    p_filesz: int
    p_memsz: int


def read_header(reader: Reader) -> ElfHeader:
    """Parse ``Elf32_Ehdr``/``Elf64_Ehdr``."""
    ident = reader.read(0, 16, "e_ident")
    if ident[:4] != ELF_MAGIC:
        raise reader.error(f"invalid ELF magic {ident[:4]!r}")
    ei_class, ei_data, osabi = ident[4], ident[5], ident[7]
    if ei_class not in (1, 2):
        raise reader.error(f"invalid EI_CLASS {ei_class}")
    if ei_data not in (1, 2):
        raise reader.error(f"invalid EI_DATA {ei_data}")
    elf_class = ElfClass(ei_class)
    endian = "<" if ei_data == 1 else ">"
    # e_type e_machine e_version e_entry e_phoff e_shoff e_flags e_ehsize
    # e_phentsize e_phnum e_shentsize e_shnum e_shstrndx
    fmt = endian + ("HHIQQQIHHHHHH" if elf_class is ElfClass.ELFCLASS64 else "HHIIIIIHHHHHH")
    size = struct.calcsize(fmt)
    fields = struct.unpack(fmt, reader.read(16, size, "ELF header"))
    header = ElfHeader(
        elf_class=elf_class,
        little_endian=ei_data == 1,
        osabi=osabi,
        e_type=fields[0],
        machine=fields[1],
        phoff=fields[4],
        shoff=fields[5],
        phentsize=fields[8],
        phnum=fields[9],
        shentsize=fields[10],
        shnum=fields[11],
        shstrndx=fields[12],
    )
    return header


def _real_phnum(reader: Reader, header: ElfHeader) -> int:
    if header.phnum != PN_XNUM:
        return header.phnum
    # gABI: with PN_XNUM the count lives in sh_info of section header 0.
    fmt = header.endian + ("IIQQQQIIQQ" if header.is64 else "IIIIIIIIII")
    if header.shoff == 0 or header.shentsize < struct.calcsize(fmt):
        raise reader.error("e_phnum is PN_XNUM but there is no section header 0")
    shdr = struct.unpack(fmt, reader.read(header.shoff, struct.calcsize(fmt), "section header 0"))
    return int(shdr[7])


def read_program_headers(reader: Reader, header: ElfHeader) -> tuple[ProgramHeader, ...]:
    """Parse the program header table (what the kernel and ld.so read; sections are optional)."""
    # Elf64_Phdr: type flags offset vaddr paddr filesz memsz align
    # Elf32_Phdr: type offset vaddr paddr filesz memsz flags align
    fmt = header.endian + ("IIQQQQQQ" if header.is64 else "IIIIIIII")
    entsize = struct.calcsize(fmt)
    phnum = _real_phnum(reader, header)
    if phnum == 0:
        return ()
    if header.phentsize < entsize:
        raise reader.error(f"e_phentsize {header.phentsize} is smaller than {entsize}")
    table = reader.read(header.phoff, header.phentsize * phnum, "program header table")
    result = []
    for i in range(phnum):
        f = struct.unpack_from(fmt, table, i * header.phentsize)
        if header.is64:
            ph = ProgramHeader(f[0], f[1], f[2], f[3], f[5], f[6])
        else:
            ph = ProgramHeader(f[0], f[6], f[1], f[2], f[4], f[5])
        result.append(ph)
    return tuple(result)


def vaddr_to_offset(phdrs: tuple[ProgramHeader, ...], vaddr: int) -> int | None:
    """File offset of virtual address ``vaddr`` through the PT_LOAD segments, as ld.so maps it."""
    for ph in phdrs:
        if ph.p_type == PT_LOAD and ph.p_vaddr <= vaddr < ph.p_vaddr + ph.p_filesz:
            return ph.p_offset + (vaddr - ph.p_vaddr)
    return None


@dataclass(frozen=True, slots=True)
class SectionHeader:
    sh_name: int  # offset in the section header string table
    sh_type: int
    sh_addr: int
    sh_offset: int
    sh_size: int
    sh_entsize: int


SHT_DYNSYM = 11
SHT_NOBITS = 8


def read_section_headers(reader: Reader, header: ElfHeader) -> tuple[SectionHeader, ...]:
    """The section header table, or () when absent or unusable.

    Sections are optional for running a program (the loader never reads them), so a damaged
    section header table means "unknown", not an error.
    """
    # Elf{32,64}_Shdr: name type flags addr offset size link info addralign entsize
    fmt = header.endian + ("IIQQQQIIQQ" if header.is64 else "IIIIIIIIII")
    entsize = struct.calcsize(fmt)
    if header.shoff == 0 or header.shnum == 0 or header.shentsize < entsize:
        return ()
    if header.shoff + header.shentsize * header.shnum > reader.size:
        return ()
    table = reader.read(header.shoff, header.shentsize * header.shnum, "section headers")
    rows = (struct.unpack_from(fmt, table, i * header.shentsize) for i in range(header.shnum))
    return tuple(SectionHeader(r[0], r[1], r[3], r[4], r[5], r[9]) for r in rows)


def find_section(reader: Reader, header: ElfHeader, wanted: str) -> SectionHeader | None:
    """The section named ``wanted``; None when absent or the section headers are unusable."""
    sections = read_section_headers(reader, header)
    if header.shstrndx >= len(sections):
        return None
    strtab = sections[header.shstrndx]
    if strtab.sh_offset + strtab.sh_size > reader.size:
        return None
    names = reader.read(strtab.sh_offset, strtab.sh_size, ".shstrtab")
    key = wanted.encode() + b"\0"
    for section in sections:
        if names[section.sh_name : section.sh_name + len(key)] == key:
            return section
    return None
