"""Read ``/etc/ld.so.cache``, the binary file ``ldconfig`` writes and glibc's ld.so searches.

Format, from glibc ``sysdeps/generic/dl-cache.h`` and the reader ``elf/dl-cache.c``
(``_dl_load_cache_lookup`` / ``_dl_cache_libcmp``):

* new format (the only one ``ldconfig`` writes by default since glibc 2.32): a 48-byte header
  ``"glibc-ld.so.cache" "1.1"``, ``uint32 nlibs``, ``uint32 len_strings``, ``uint8 flags``
  (endianness: 2 little, 3 big, 0 unknown), 3 padding bytes, ``uint32 extension_offset``,
  ``uint32 unused[3]``; then ``nlibs`` entries ``{int32 flags, uint32 key, uint32 value,
  uint32 osversion, uint64 hwcap}`` (24 bytes); string offsets (``key`` = soname, ``value`` =
  path) are relative to the **start of the new header**;
* "compat" format: the old ``ld.so-1.7.0`` section first (``char magic[11]``, pad,
  ``uint32 nlibs``, 12-byte entries ``{int32 flags, uint32 key, uint32 value}``), then the new
  header at the next 8-byte boundary; ld.so uses the new part when it is there;
* old format only: string offsets are relative to the end of the old entry array;
* extensions (glibc >= 2.33, at ``extension_offset`` from the new header): ``uint32 magic``
  (0xEAA42174), ``uint32 count``, then ``count`` sections ``{uint32 tag, flags, offset, size}``;
  tag 0 is the generator string ("ldconfig (Debian GLIBC 2.36-9) ..."), tag 1 the
  ``glibc-hwcaps`` subdirectory names as an array of ``uint32`` string offsets, indexed by the
  low 32 bits of an entry's ``hwcap`` when bit 62 is set.

``flags`` carry the ABI: the low byte is the type (``FLAG_ELF_LIBC6`` = 3), the high byte the
architecture variant (``FLAG_X8664_LIB64`` = 0x0300, ...). Each ld.so accepts only its own
value (``_dl_cache_check_flags`` in ``sysdeps/unix/sysv/linux/<arch>/dl-cache.h``), which is
how a 32-bit library listed in the cache is never used for a 64-bit program.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from linkcheck.errors import LdCacheError

__all__ = [
    "FLAG_AARCH64_LIB64",
    "FLAG_ELF",
    "FLAG_ELF_LIBC6",
    "FLAG_X8664_LIB64",
    "FLAG_X8664_LIBX32",
    "LdCache",
    "LdCacheEntry",
    "abi_of_flags",
    "accepted_flags",
    "parse_ld_cache",
]

OLD_MAGIC = b"ld.so-1.7.0"
NEW_MAGIC = b"glibc-ld.so.cache1.1"
_OLD_HEADER = 16  # sizeof (struct cache_file): magic[11], pad, nlibs
_OLD_ENTRY = 12
_NEW_HEADER = 48  # sizeof (struct cache_file_new), static-asserted in glibc
_NEW_ENTRY = 24

# dl-cache.h: entry types (low byte) and required ABI variants (high byte).
FLAG_TYPE_MASK = 0x00FF
FLAG_LIBC4 = 0x0000
FLAG_ELF = 0x0001
FLAG_ELF_LIBC5 = 0x0002
FLAG_ELF_LIBC6 = 0x0003
FLAG_REQUIRED_MASK = 0xFF00
FLAG_SPARC_LIB64 = 0x0100
FLAG_IA64_LIB64 = 0x0200
FLAG_X8664_LIB64 = 0x0300
FLAG_S390_LIB64 = 0x0400
FLAG_POWERPC_LIB64 = 0x0500
FLAG_MIPS64_LIBN32 = 0x0600
FLAG_MIPS64_LIBN64 = 0x0700
FLAG_X8664_LIBX32 = 0x0800
FLAG_ARM_LIBHF = 0x0900
FLAG_AARCH64_LIB64 = 0x0A00
FLAG_ARM_LIBSF = 0x0B00
FLAG_RISCV_FLOAT_ABI_SOFT = 0x0F00
FLAG_RISCV_FLOAT_ABI_DOUBLE = 0x1000
FLAG_LARCH_FLOAT_ABI_DOUBLE = 0x1200

# dl-cache.h: hwcap bit 62 marks a glibc-hwcaps subdirectory entry (glibc >= 2.33); the low
# 32 bits then index the extension's subdirectory names and bits 32..41 hold an ISA level.
DL_CACHE_HWCAP_EXTENSION = 1 << 62
_ISA_LEVEL_MASK = (1 << 10) - 1

_EM_386, _EM_ARM, _EM_X86_64, _EM_AARCH64 = 3, 40, 62, 183
_EM_PPC64, _EM_S390, _EM_RISCV, _EM_LOONGARCH = 21, 22, 243, 258

# What each ld.so's _dl_cache_check_flags accepts, keyed by (ELF class, e_machine).
# sysdeps/unix/sysv/linux/{x86_64,aarch64,arm,powerpc,s390,riscv,loongarch}/dl-cache.h;
# 32-bit targets without their own header use sysdeps/generic/dl-cache.h: 1 or 3.
_ACCEPTED: dict[tuple[int, int], frozenset[int]] = {
    (2, _EM_X86_64): frozenset({FLAG_X8664_LIB64 | FLAG_ELF_LIBC6}),
    (1, _EM_X86_64): frozenset({FLAG_X8664_LIBX32 | FLAG_ELF_LIBC6}),
    (1, _EM_386): frozenset({FLAG_ELF, FLAG_ELF_LIBC6}),
    (2, _EM_AARCH64): frozenset({FLAG_AARCH64_LIB64 | FLAG_ELF_LIBC6}),
    # arm: hard- or soft-float default id, or a plain libc6 entry (we cannot tell the float
    # ABI of the loader from the program alone, so both variants are accepted).
    (1, _EM_ARM): frozenset(
        {FLAG_ARM_LIBHF | FLAG_ELF_LIBC6, FLAG_ARM_LIBSF | FLAG_ELF_LIBC6, FLAG_ELF_LIBC6}
    ),
    (2, _EM_PPC64): frozenset({FLAG_POWERPC_LIB64 | FLAG_ELF_LIBC6}),
    (2, _EM_S390): frozenset({FLAG_S390_LIB64 | FLAG_ELF_LIBC6}),
    (2, _EM_RISCV): frozenset(
        {FLAG_RISCV_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6, FLAG_RISCV_FLOAT_ABI_SOFT | FLAG_ELF_LIBC6}
    ),
    (2, _EM_LOONGARCH): frozenset({FLAG_LARCH_FLOAT_ABI_DOUBLE | FLAG_ELF_LIBC6}),
}


def abi_of_flags(flags: int) -> tuple[int, int] | None:
    """(ELF class, e_machine) an entry's flags stand for; None when ambiguous (plain libc6
    and ELF entries are used by several 32-bit ABIs) or unknown."""
    owners = [abi for abi, accepted in _ACCEPTED.items() if flags in accepted]
    return owners[0] if len(owners) == 1 else None


def accepted_flags(elf_class: int, machine: int) -> frozenset[int] | None:
    """Cache ``flags`` the glibc ld.so for this ELF class/machine accepts; None if unknown."""
    return _ACCEPTED.get((int(elf_class), machine))


@dataclass(frozen=True, slots=True)
class LdCacheEntry:
    soname: str  # the key ld.so compares DT_NEEDED with
    path: str  # absolute path inside the image (as written by ldconfig -r ROOT)
    flags: int
    hwcap: int  # 0 for plain entries; see ``is_hwcaps_subdir`` (old format: always 0)
    hwcaps_subdir: str | None = None  # "x86-64-v3" for a glibc-hwcaps/x86-64-v3/ entry

    @property
    def is_hwcaps_subdir(self) -> bool:
        """A ``glibc-hwcaps/<name>/`` entry: used only when the CPU supports ``<name>``."""
        return (self.hwcap >> 32) & ~_ISA_LEVEL_MASK == DL_CACHE_HWCAP_EXTENSION >> 32

    @property
    def abi(self) -> tuple[int, int] | None:
        """(ELF class, e_machine) of this entry, e.g. (2, 62) for 0x0303; None if ambiguous."""
        return abi_of_flags(self.flags)

    def matches(self, elf_class: int, machine: int) -> bool:
        """True when the ld.so of a program of this class/machine would accept this entry.

        For an unknown machine, fall back to the type byte being ELF at all.
        """
        accepted = accepted_flags(elf_class, machine)
        if accepted is None:
            return self.flags & FLAG_TYPE_MASK in (FLAG_ELF, FLAG_ELF_LIBC6)
        return self.flags in accepted


@dataclass(frozen=True, slots=True)
class LdCache:
    entries: tuple[LdCacheEntry, ...]  # in file order (ldconfig sorts them for bsearch)
    format: str  # "new", "compat" (old section + new) or "old"
    generator: str | None = None  # the ldconfig that wrote it, when recorded (glibc >= 2.33)

    def candidates(self, soname: str, elf_class: int, machine: int) -> tuple[LdCacheEntry, ...]:
        """Entries for ``soname`` that this ABI's ld.so accepts, in file order."""
        return tuple(
            e for e in self.entries if e.soname == soname and e.matches(elf_class, machine)
        )

    def lookup(self, soname: str, elf_class: int, machine: int) -> str | None:
        """The path ld.so takes from the cache for ``soname``, or None if it has none.

        glibc lists glibc-hwcaps subdirectory entries first and takes one only if the CPU
        supports it (elf/dl-cache.c, search_cache); a static analysis does not know the CPU,
        so the baseline entry is preferred and a hwcaps-only library is still reported.
        """
        found = self.candidates(soname, elf_class, machine)
        plain = [e for e in found if not e.is_hwcaps_subdir]
        best = plain or list(found)
        return best[0].path if best else None

    def sonames(self) -> frozenset[str]:
        return frozenset(e.soname for e in self.entries)


def _string(data: bytes, base: int, offset: int, what: str) -> str:
    start = base + offset
    if not base <= start < len(data):
        raise LdCacheError(f"ld.so.cache: {what} string offset {offset:#x} is outside the file")
    end = data.find(b"\0", start)
    if end < 0:
        raise LdCacheError(f"ld.so.cache: {what} string at {start:#x} is not terminated")
    return data[start:end].decode("utf-8", "surrogateescape")


_EXTENSION_MAGIC = 0xEAA42174
_TAG_GENERATOR = 0
_TAG_GLIBC_HWCAPS = 1


def _extensions(data: bytes, start: int, endian: str) -> tuple[str | None, tuple[str, ...]]:
    """(generator, glibc-hwcaps subdirectory names) from the extension area, if any.

    ``extension_offset`` and the section offsets count from the start of the *file*, the
    hwcaps string offsets from the new header (elf/dl-cache.h cache_extension_load; the two
    differ only in the compat format).
    """
    (ext,) = struct.unpack_from(endian + "I", data, start + 32)
    if ext == 0 or ext + 8 > len(data):
        return None, ()
    magic, count = struct.unpack_from(endian + "II", data, ext)
    if magic != _EXTENSION_MAGIC or count > (len(data) - ext - 8) // 16:
        return None, ()
    generator: str | None = None
    subdirs: tuple[str, ...] = ()
    for i in range(count):
        tag, _flags, begin, size = struct.unpack_from(endian + "IIII", data, ext + 8 + 16 * i)
        if begin + size > len(data):
            raise LdCacheError(f"ld.so.cache: extension {tag} at {begin:#x} is truncated")
        if tag == _TAG_GENERATOR:
            generator = data[begin : begin + size].decode("utf-8", "replace")
        elif tag == _TAG_GLIBC_HWCAPS:
            names = struct.unpack_from(f"{endian}{size // 4}I", data, begin)
            subdirs = tuple(_string(data, start, n, "glibc-hwcaps") for n in names)
    return generator, subdirs


def _hwcaps_name(hwcap: int, subdirs: tuple[str, ...]) -> str | None:
    if (hwcap >> 32) & ~_ISA_LEVEL_MASK != DL_CACHE_HWCAP_EXTENSION >> 32:
        return None
    index = hwcap & 0xFFFFFFFF
    return subdirs[index] if index < len(subdirs) else None


def _parse_new(data: bytes, start: int, fmt: str) -> LdCache:
    if len(data) < start + _NEW_HEADER:
        raise LdCacheError(f"ld.so.cache: new header at {start:#x} is truncated")
    endian = _new_endian(data, start)
    (nlibs,) = struct.unpack_from(endian + "I", data, start + 20)
    table = start + _NEW_HEADER
    if nlibs > (len(data) - table) // _NEW_ENTRY:
        raise LdCacheError(f"ld.so.cache: {nlibs} entries do not fit in {len(data)} bytes")
    generator, subdirs = _extensions(data, start, endian)
    entries = []
    for i in range(nlibs):
        flags, key, value, _osv, hwcap = struct.unpack_from(
            endian + "iIIIQ", data, table + i * _NEW_ENTRY
        )
        soname = _string(data, start, key, f"entry {i} soname")
        path = _string(data, start, value, f"entry {i} path")
        entries.append(LdCacheEntry(soname, path, flags, hwcap, _hwcaps_name(hwcap, subdirs)))
    return LdCache(tuple(entries), fmt, generator)


def _new_endian(data: bytes, start: int) -> str:
    # cache_file_new.flags (glibc >= 2.33): 2 = little-endian, 3 = big-endian, 0 = unset
    # (written by an older ldconfig: host byte order, which we take as little-endian).
    flag = data[start + 28] if len(data) > start + 28 else 0
    if flag == 3:
        return ">"
    if flag in (0, 2):
        return "<"
    raise LdCacheError(f"ld.so.cache: invalid endianness flag {flag}")


def _parse_old(data: bytes) -> tuple[int, tuple[LdCacheEntry, ...]]:
    """The old section: (offset just past its entries, its entries)."""
    if len(data) < _OLD_HEADER:
        raise LdCacheError("ld.so.cache: old header is truncated")
    (nlibs,) = struct.unpack_from("<I", data, 12)
    if nlibs > (len(data) - _OLD_HEADER) // _OLD_ENTRY:
        raise LdCacheError(f"ld.so.cache: {nlibs} old entries do not fit in {len(data)} bytes")
    strings = _OLD_HEADER + nlibs * _OLD_ENTRY
    entries = []
    for i in range(nlibs):
        flags, key, value = struct.unpack_from("<iII", data, _OLD_HEADER + i * _OLD_ENTRY)
        soname = _string(data, strings, key, f"old entry {i} soname")
        path = _string(data, strings, value, f"old entry {i} path")
        entries.append(LdCacheEntry(soname, path, flags, 0))
    return strings, tuple(entries)


def parse_ld_cache(data: bytes) -> LdCache:
    """Parse the bytes of an ``ld.so.cache``; raise :class:`LdCacheError` if malformed."""
    if data.startswith(NEW_MAGIC):
        return _parse_new(data, 0, "new")
    if not data.startswith(OLD_MAGIC):
        raise LdCacheError(f"ld.so.cache: unknown magic {data[:20]!r}")
    end, old_entries = _parse_old(data)
    new_start = (end + 7) & ~7  # ALIGN_CACHE: __alignof__ (struct cache_file_new) == 8
    if data[new_start : new_start + len(NEW_MAGIC)] == NEW_MAGIC:
        return _parse_new(data, new_start, "compat")
    return LdCache(old_entries, "old")
