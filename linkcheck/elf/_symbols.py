"""Bulk decoding of ``.dynsym`` and ``.gnu.version``: the one place linkcheck unpacks ELF
records itself, from bytes that pyelftools located (see :mod:`linkcheck.elf._elffile`).

Why not pyelftools' ``iter_symbols()``: it builds a ``construct`` container per symbol, which
measured 260 ms for libc.so.6's 3,044 dynamic symbols and 3.9 s for libLLVM-15's 46,325, and
96% of pyelftools' time over 400 real files (48.9 ms per file with symbols, 2.0 ms without:
``tests/bench/bench_elf.py``).
The records are fixed-size (System V gABI "Symbol Table": ``Elf32_Sym``/``Elf64_Sym``; the
GNU ``Elf_Versym`` is one ``Elf_Half``), so :func:`struct.iter_unpack` decodes a whole table
in one call and the names are sliced from the string table, decoded once.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from linkcheck.errors import ElfError

__all__ = ["DynamicSymbols", "decode_symbols", "symbol_size"]

SHN_UNDEF = 0  # st_shndx of an undefined (imported) symbol
STB_LOCAL = 0  # st_info >> 4; a local symbol never resolves another object's reference
STB_WEAK = 2  # an undefined weak symbol may stay unresolved without failing the load
VERSYM_HIDDEN = 0x8000  # elf.h VERSYM_HIDDEN; the low 15 bits are the version index

# Elf64_Sym: st_name st_info st_other st_shndx st_value st_size
# Elf32_Sym: st_name st_value st_size st_info st_other st_shndx
_SYM64, _SYM32 = "IBBHQQ", "IIIBBH"


def symbol_size(is64: bool) -> int:
    return struct.calcsize("<" + (_SYM64 if is64 else _SYM32))


@dataclass(frozen=True, slots=True)
class DynamicSymbols:
    undefined: tuple[str, ...]  # undefined, not weak, named; table order
    defined: frozenset[str]  # defined, not local, named
    # undefined named symbols per .gnu.version index (hidden bit cleared); None without versym
    by_version: dict[int, tuple[str, ...]] | None


class _Names:
    """Names from a string table read once: one ASCII decode in the usual case."""

    def __init__(self, table: bytes, label: str) -> None:
        self.table = table
        self.label = label
        self.text = table.decode("ascii") if table.isascii() else None

    def get(self, offset: int) -> str:
        if self.text is not None and 0 <= offset < len(self.text):
            end = self.text.find("\0", offset)
            if end >= 0:
                return self.text[offset:end]
        return self._slow(offset)

    def _slow(self, offset: int) -> str:
        if not 0 <= offset < len(self.table):
            raise ElfError(f"{self.label}: string offset {offset:#x} is outside .dynstr")
        end = self.table.find(b"\0", offset)
        if end < 0:
            raise ElfError(f"{self.label}: string at .dynstr offset {offset:#x} is not terminated")
        return self.table[offset:end].decode("utf-8", "surrogateescape")


def decode_symbols(
    table: bytes,
    strings: bytes,
    versym: bytes | None,
    *,
    is64: bool,
    little_endian: bool,
    label: str,
) -> DynamicSymbols:
    """Decode a whole dynamic symbol table (``len(table)`` a multiple of the record size)."""
    endian = "<" if little_endian else ">"
    if is64:
        fmt, info_i, shndx_i = endian + _SYM64, 1, 3
    else:
        fmt, info_i, shndx_i = endian + _SYM32, 3, 5
    count = len(table) // struct.calcsize(fmt)
    names = _Names(strings, label)
    undefined: list[str] = []
    defined: set[str] = set()
    imported: list[tuple[int, str]] = []  # (symbol index, name) of every named undefined symbol
    for index, row in enumerate(struct.iter_unpack(fmt, table)):  # not kept: 46k tuples on libLLVM
        if not row[0]:  # st_name 0: the null symbol and unnamed section symbols
            continue
        name = names.get(row[0])
        if not name:
            continue
        bind = row[info_i] >> 4
        if row[shndx_i] == SHN_UNDEF:
            imported.append((index, name))
            if bind != STB_WEAK:
                undefined.append(name)
        elif bind != STB_LOCAL:
            defined.add(name)
    return DynamicSymbols(
        undefined=tuple(undefined),
        defined=frozenset(defined),
        by_version=_by_version(imported, versym, count, endian, label),
    )


def _by_version(
    imported: list[tuple[int, str]], versym: bytes | None, count: int, endian: str, label: str
) -> dict[int, tuple[str, ...]] | None:
    if versym is None:
        return None
    if len(versym) < 2 * count:
        raise ElfError(f"{label}: .gnu.version has {len(versym) // 2} entries for {count} symbols")
    versions = struct.unpack_from(f"{endian}{count}H", versym)
    grouped: dict[int, list[str]] = {}
    for index, name in imported:
        grouped.setdefault(versions[index] & ~VERSYM_HIDDEN, []).append(name)
    return {k: tuple(v) for k, v in grouped.items()}
