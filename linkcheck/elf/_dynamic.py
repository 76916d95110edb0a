"""The dynamic segment, read the way ld.so reads it: from ``PT_DYNAMIC`` and ``DT_*`` addresses.

Section headers are consulted only to size a ``.dynsym`` that no hash table counts (an object
that exports nothing), so binaries with stripped section headers are read as the loader sees
them. Layouts: System V gABI "Dynamic Section" and
"Symbol Table"; the GNU versioning structures from glibc ``elf/elf.h`` (``Elf64_Verneed``,
``Elf64_Vernaux``, ``Elf64_Verdef``, ``Elf64_Verdaux``) and the LSB "Symbol Versioning" chapter;
the ``DT_GNU_HASH`` layout from glibc ``elf/dl-lookup.c`` / ``elf/dl-setup_hash.c``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from linkcheck.elf._reader import (
    PT_DYNAMIC,
    SHT_DYNSYM,
    read_section_headers,
    vaddr_to_offset,
)
from linkcheck.elf.info import VersionNeed

if TYPE_CHECKING:
    from collections.abc import Iterable

    from linkcheck.elf._reader import ElfHeader, ProgramHeader, Reader

__all__ = ["DynamicInfo", "read_dynamic"]

DT_NULL = 0
DT_NEEDED = 1
DT_HASH = 4
DT_STRTAB = 5
DT_SYMTAB = 6
DT_STRSZ = 10
DT_SYMENT = 11
DT_SONAME = 14
DT_RPATH = 15
DT_RUNPATH = 29
DT_GNU_HASH = 0x6FFFFEF5
DT_VERSYM = 0x6FFFFFF0
DT_FLAGS_1 = 0x6FFFFFFB
DT_VERDEF = 0x6FFFFFFC
DT_VERDEFNUM = 0x6FFFFFFD
DT_VERNEED = 0x6FFFFFFE
DT_VERNEEDNUM = 0x6FFFFFFF

# Hostile counts are refused before they cost time: libLLVM-15.so.1 has 46,325 dynamic symbols
# and glibc 2.36's libc.so.6 has 39 version definitions, far below these limits.
MAX_SYMBOLS = 1 << 20
MAX_VERSION_ENTRIES = 1 << 14

VER_FLG_WEAK = 0x2  # elf.h: weak version identifier
VERSYM_HIDDEN = 0x8000  # elf.h VERSYM_HIDDEN; the low 15 bits are the version index

SHN_UNDEF = 0
STB_LOCAL = 0
STB_WEAK = 2

# Tags ld.so keeps one slot for: a later entry overwrites an earlier one
# (glibc elf/get-dynamic-info.h stores ``info[tag] = dyn`` while walking the array).
_SINGLE_TAGS = (
    DT_HASH,
    DT_STRTAB,
    DT_SYMTAB,
    DT_STRSZ,
    DT_SYMENT,
    DT_SONAME,
    DT_RPATH,
    DT_RUNPATH,
    DT_GNU_HASH,
    DT_VERSYM,
    DT_FLAGS_1,
    DT_VERDEF,
    DT_VERDEFNUM,
    DT_VERNEED,
    DT_VERNEEDNUM,
)


_TAG_NAMES = {
    DT_HASH: "DT_HASH",
    DT_STRTAB: "DT_STRTAB",
    DT_SYMTAB: "DT_SYMTAB",
    DT_GNU_HASH: "DT_GNU_HASH",
    DT_VERSYM: "DT_VERSYM",
    DT_VERDEF: "DT_VERDEF",
    DT_VERNEED: "DT_VERNEED",
}

# Tables the linker places in the read-only segment, whose addresses bound DT_SYMTAB's end.
_TABLE_TAGS = frozenset({DT_HASH, DT_STRTAB, DT_GNU_HASH, DT_VERSYM, DT_VERDEF, DT_VERNEED})
_TABLE_TAGS |= frozenset({7, 17, 23})  # DT_RELA, DT_REL, DT_JMPREL


@dataclass(frozen=True, slots=True)
class DynamicInfo:
    needed: tuple[str, ...]
    soname: str | None
    rpath: tuple[str, ...] | None
    runpath: tuple[str, ...] | None
    flags_1: int
    version_needs: tuple[VersionNeed, ...]
    version_defs: tuple[str, ...]
    undefined_symbols: tuple[str, ...] | None
    defined_symbols: frozenset[str] | None


class _Symbol(NamedTuple):
    name: str
    undefined: bool  # st_shndx == SHN_UNDEF
    bind: int  # STB_*; STB_LOCAL symbols never resolve another object's reference


class _Dynamic:
    """One ELF's dynamic array plus bounded readers for the tables it points at."""

    def __init__(self, reader: Reader, header: ElfHeader, phdrs: tuple[ProgramHeader, ...]):
        self.reader = reader
        self.header = header
        self.phdrs = phdrs
        self.endian = header.endian
        self.entries: list[tuple[int, int]] = []
        self.tags: dict[int, int] = {}
        self._strtab: bytes | None = None
        self._strtext: str | None = None

    def load_tags(self, segment: ProgramHeader) -> None:
        fmt = self.endian + ("qQ" if self.header.is64 else "iI")
        entsize = struct.calcsize(fmt)
        data = self.reader.read(segment.p_offset, segment.p_filesz, "PT_DYNAMIC")
        for tag, value in struct.iter_unpack(fmt, data[: len(data) - len(data) % entsize]):
            if tag == DT_NULL:
                break
            self.entries.append((tag, value))
            if tag in _SINGLE_TAGS:
                self.tags[tag] = value

    def offset(self, tag: int) -> int | None:
        """File offset of the address held by ``tag``; None when the tag is absent."""
        vaddr = self.tags.get(tag)
        if vaddr is None:
            return None
        off = vaddr_to_offset(self.phdrs, vaddr)
        if off is None:
            raise self.reader.error(f"{_tag_name(tag)} address {vaddr:#x} is in no PT_LOAD segment")
        return off

    def strtab(self) -> bytes:
        if self._strtab is None:
            off = self.offset(DT_STRTAB)
            if off is None:
                raise self.reader.error("PT_DYNAMIC has no DT_STRTAB")
            size = self.tags.get(DT_STRSZ, self.reader.size - off)
            self._strtab = self.reader.read(off, size, "DT_STRTAB string table")
        return self._strtab

    def string(self, index: int) -> str:
        table = self.strtab()
        if not 0 <= index < len(table):
            raise self.reader.error(f"string offset {index:#x} is outside DT_STRTAB")
        end = table.find(b"\0", index)
        if end < 0:
            raise self.reader.error(f"string at DT_STRTAB offset {index:#x} is not terminated")
        return table[index:end].decode("utf-8", "surrogateescape")

    def strings(self, offsets: Iterable[int]) -> list[str]:
        """Many strings at once (symbol names): one decode when the table is ASCII, as it
        nearly always is; a bad offset gets the precise error from :meth:`string`."""
        table = self.strtab()
        if not table.isascii():
            return [self.string(o) for o in offsets]
        if self._strtext is None:
            self._strtext = table.decode("ascii")
        text, find, out = self._strtext, self._strtext.find, []
        for offset in offsets:
            end = find("\0", offset)
            out.append(text[offset:end] if end >= 0 else self.string(offset))
        return out

    def u32_array(self, offset: int, count: int, what: str) -> tuple[int, ...]:
        data = self.reader.read(offset, 4 * count, what)
        return struct.unpack(f"{self.endian}{count}I", data)


def _tag_name(tag: int) -> str:
    return _TAG_NAMES.get(tag, f"tag {tag:#x}")


def _gnu_hash_count(dyn: _Dynamic, offset: int) -> int | None:
    """Number of .dynsym entries implied by DT_GNU_HASH (glibc elf/dl-setup_hash.c layout).

    None when no symbol is hashed: ``symoffset`` is then not a symbol count.
    """
    nbuckets, symoffset, bloom_size, _shift = dyn.u32_array(offset, 4, "DT_GNU_HASH header")
    bloom_bytes = bloom_size * (8 if dyn.header.is64 else 4)
    buckets_off = offset + 16 + bloom_bytes
    buckets = dyn.u32_array(buckets_off, nbuckets, "DT_GNU_HASH buckets")
    last = max(buckets, default=0)
    if last == 0 or last < symoffset:
        return None
    # Walk the last bucket's chain to its terminator (low bit set), a block at a time.
    start = buckets_off + 4 * nbuckets + 4 * (last - symoffset)
    index = last
    while True:
        block = dyn.reader.read_upto(start, 4096)
        if len(block) < 4:
            raise dyn.reader.error("DT_GNU_HASH chain runs past the end of the file")
        for (value,) in struct.iter_unpack(dyn.endian + "I", block[: len(block) & ~3]):
            if value & 1:
                return index + 1
            index += 1
        if index > MAX_SYMBOLS:
            raise dyn.reader.error(f"DT_GNU_HASH chain runs past {MAX_SYMBOLS} symbols")
        start += len(block) & ~3


def _count_from_layout(dyn: _Dynamic, entsize: int) -> int | None:
    """Fallback when no hash table counts the symbols (nothing exported).

    A ``SHT_DYNSYM`` section at DT_SYMTAB gives the size; without sections, the next table
    after DT_SYMTAB bounds it (the linker lays them out back to back, as pyelftools and
    readelf's section-less mode also assume).
    """
    symtab = dyn.tags[DT_SYMTAB]
    for section in read_section_headers(dyn.reader, dyn.header):
        if section.sh_type == SHT_DYNSYM and section.sh_addr == symtab:
            return section.sh_size // entsize
    following = [v for t, v in dyn.entries if t in _TABLE_TAGS and v > symtab]
    return (min(following) - symtab) // entsize if following else None


def _symbol_count(dyn: _Dynamic, entsize: int) -> int | None:
    gnu = dyn.offset(DT_GNU_HASH)
    count = _gnu_hash_count(dyn, gnu) if gnu is not None else None
    if count is None:
        sysv = dyn.offset(DT_HASH)
        if sysv is not None:
            count = dyn.u32_array(sysv, 2, "DT_HASH header")[1]  # nbucket, nchain = count
    return count if count is not None else _count_from_layout(dyn, entsize)


def _symbols(dyn: _Dynamic) -> list[_Symbol] | None:
    symtab = dyn.offset(DT_SYMTAB)
    if symtab is None:
        return None
    if dyn.header.is64:
        fmt, name_i, info_i, shndx_i = dyn.endian + "IBBHQQ", 0, 1, 3
    else:
        fmt, name_i, info_i, shndx_i = dyn.endian + "IIIBBH", 0, 3, 5
    entsize = struct.calcsize(fmt)
    if dyn.tags.get(DT_SYMENT, entsize) != entsize:
        raise dyn.reader.error(f"DT_SYMENT {dyn.tags[DT_SYMENT]} is not {entsize}")
    count = _symbol_count(dyn, entsize)
    if count is None:
        return None
    if count > MAX_SYMBOLS:
        raise dyn.reader.error(f"DT_SYMTAB symbol count {count} is implausible")
    data = dyn.reader.read(symtab, entsize * count, f"DT_SYMTAB ({count} symbols)")
    rows = list(struct.iter_unpack(fmt, data))
    names = dyn.strings(row[name_i] for row in rows)
    return [
        _Symbol(name, row[shndx_i] == SHN_UNDEF, row[info_i] >> 4)
        for name, row in zip(names, rows, strict=True)
    ]


def _versym(dyn: _Dynamic, count: int) -> tuple[int, ...] | None:
    off = dyn.offset(DT_VERSYM)
    if off is None:
        return None
    data = dyn.reader.read(off, 2 * count, "DT_VERSYM")
    return struct.unpack(f"{dyn.endian}{count}H", data)


def _version_needs(
    dyn: _Dynamic, symbols: list[_Symbol] | None, versym: tuple[int, ...] | None
) -> tuple[VersionNeed, ...]:
    off = dyn.offset(DT_VERNEED)
    if off is None:
        return ()
    by_index: dict[int, list[str]] = {}
    known = symbols is not None and versym is not None
    if symbols is not None and versym is not None:
        for sym, ver in zip(symbols, versym, strict=True):
            if sym.undefined and sym.name:
                by_index.setdefault(ver & ~VERSYM_HIDDEN, []).append(sym.name)
    need_fmt, aux_fmt = dyn.endian + "HHIII", dyn.endian + "IHHII"
    result = []
    for _ in range(min(dyn.tags.get(DT_VERNEEDNUM, 0), MAX_VERSION_ENTRIES)):
        _ver, cnt, file_, aux, next_ = struct.unpack(
            need_fmt, dyn.reader.read(off, 16, "Elf_Verneed")
        )
        filename = dyn.string(file_)
        aux_off = off + aux
        for _ in range(cnt):
            _hash, flags, other, name, aux_next = struct.unpack(
                aux_fmt, dyn.reader.read(aux_off, 16, "Elf_Vernaux")
            )
            result.append(
                VersionNeed(
                    file=filename,
                    version=dyn.string(name),
                    weak=bool(flags & VER_FLG_WEAK),
                    symbols=tuple(by_index.get(other, ())) if known else None,
                )
            )
            if aux_next == 0:  # readelf stops here too; a 0 link would repeat the entry
                break
            if len(result) >= MAX_VERSION_ENTRIES:
                raise dyn.reader.error(f"more than {MAX_VERSION_ENTRIES} version needs")
            aux_off += aux_next
        if next_ == 0:
            break
        off = _advance(dyn, off, next_, "vn_next")
    return tuple(result)


def _version_defs(dyn: _Dynamic) -> tuple[str, ...]:
    off = dyn.offset(DT_VERDEF)
    if off is None:
        return ()
    result = []
    for _ in range(min(dyn.tags.get(DT_VERDEFNUM, 0), MAX_VERSION_ENTRIES)):
        # vd_version vd_flags vd_ndx vd_cnt vd_hash vd_aux vd_next
        fields = struct.unpack(dyn.endian + "HHHHIII", dyn.reader.read(off, 20, "Elf_Verdef"))
        cnt, aux, next_ = fields[3], fields[5], fields[6]
        if cnt:
            (name,) = struct.unpack(dyn.endian + "I", dyn.reader.read(off + aux, 4, "Elf_Verdaux"))
            result.append(dyn.string(name))
        if next_ == 0:
            break
        off = _advance(dyn, off, next_, "vd_next")
    return tuple(result)


def _advance(dyn: _Dynamic, offset: int, step: int, what: str) -> int:
    # Entries are at least 16 bytes; a smaller step overlaps the entry itself, so a hostile
    # chain would otherwise be walked once per byte of the file.
    if step < 16:
        raise dyn.reader.error(f"{what} {step} is smaller than one version entry")
    return offset + step


def _split_path(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value.split(":"))


def read_dynamic(
    reader: Reader, header: ElfHeader, phdrs: tuple[ProgramHeader, ...]
) -> DynamicInfo | None:
    """Everything ld.so takes from ``PT_DYNAMIC``; None when there is no dynamic segment."""
    segment = next((ph for ph in phdrs if ph.p_type == PT_DYNAMIC), None)
    if segment is None:
        return None
    dyn = _Dynamic(reader, header, phdrs)
    dyn.load_tags(segment)
    has_strings = DT_STRTAB in dyn.tags
    needed = tuple(dyn.string(v) for t, v in dyn.entries if t == DT_NEEDED)

    def opt_string(tag: int) -> str | None:
        return dyn.string(dyn.tags[tag]) if tag in dyn.tags and has_strings else None

    symbols = _symbols(dyn) if has_strings else None
    versym = _versym(dyn, len(symbols)) if symbols is not None else None
    undefined = defined = None
    if symbols is not None:
        undefined = tuple(s.name for s in symbols if s.undefined and s.bind != STB_WEAK and s.name)
        defined = frozenset(
            s.name for s in symbols if not s.undefined and s.bind != STB_LOCAL and s.name
        )
    return DynamicInfo(
        needed=needed,
        soname=opt_string(DT_SONAME),
        rpath=_split_path(opt_string(DT_RPATH)),
        runpath=_split_path(opt_string(DT_RUNPATH)),
        flags_1=dyn.tags.get(DT_FLAGS_1, 0),
        version_needs=_version_needs(dyn, symbols, versym) if has_strings else (),
        version_defs=_version_defs(dyn) if has_strings else (),
        undefined_symbols=undefined,
        defined_symbols=defined,
    )
