"""pyelftools behind one typed adapter: the only module of linkcheck that imports it.

pyelftools reads the ELF header, the program headers, ``PT_INTERP``, the ``PT_DYNAMIC`` tags
(through its ``DynamicSegment``, so a file without section headers still gives
``DT_NEEDED``/``DT_SONAME``/``DT_RPATH``/``DT_RUNPATH``/``DT_FLAGS_1``), the GNU version
tables (``GNUVerNeedSection``/``GNUVerDefSection.iter_versions``) and locates ``.dynsym``,
``.dynstr``, ``.gnu.version`` and ``.go.buildinfo``. Only the symbol and versym records are
decoded here in bulk (:mod:`linkcheck.elf._symbols` says why). Everything pyelftools returns
(string tags, ``construct`` containers, its exceptions) stays in this module.

Hostile input: pyelftools trusts counts and offsets (it walks a dynamic array until
``DT_NULL`` even past ``p_filesz``, parses hash-table arrays of any announced length, walks a
GNU hash chain to the end of the file), so every range is checked against the file size before
pyelftools is pointed at it, counts are capped, and every read it makes goes through
:class:`_Stream`, whose read budget turns any loop that survived those checks into an
:class:`ElfError` within a fraction of a second.
"""

from __future__ import annotations

import io
import logging
import struct
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from elftools.common.exceptions import DWARFError, ELFError
from elftools.construct import ConstructError, Container
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.enums import ENUM_E_MACHINE, ENUM_E_TYPE
from elftools.elf.gnuversions import GNUVerDefSection, GNUVerNeedSection, GNUVersionSection
from elftools.elf.sections import StringTableSection, SymbolTableSection

from linkcheck.elf._symbols import DynamicSymbols, decode_symbols, symbol_size
from linkcheck.elf.info import ElfClass, VersionNeed
from linkcheck.errors import ElfError

if TYPE_CHECKING:
    from typing import BinaryIO

    from elftools.elf.sections import Section
    from elftools.elf.segments import Segment

__all__ = ["ELF_MAGIC", "THIRD_PARTY_ERRORS", "DynamicFacts", "ElfFile"]

log = logging.getLogger(__name__)

ELF_MAGIC = b"\x7fELF"

# What pyelftools (and its vendored construct) raise on malformed input, plus the built-in
# errors its code reaches on values it never checks. parse.py wraps exactly these, once.
THIRD_PARTY_ERRORS: tuple[type[BaseException], ...] = (
    ELFError,  # and ELFParseError, ELFCompressionError, ELFRelocationError
    DWARFError,
    ConstructError,
    struct.error,
    ValueError,  # and UnicodeDecodeError
    IndexError,
    KeyError,
    AttributeError,
    TypeError,
    AssertionError,  # DynamicSegment asserts it found a string table
    ZeroDivisionError,
    OverflowError,
    RecursionError,
    MemoryError,
)

# Limits no real file comes near (libLLVM-15.so.1: 46,325 dynamic symbols, 31 sections;
# glibc 2.36 libc.so.6: 39 version definitions). pyelftools parses the hash-table arrays an
# element per read when it builds the section objects: a whole parse of libLLVM-15 (117 MB)
# makes 117,000 reads (budget 1.9 million), libc.so.6 (2 MB) 6,900 (budget 80,000). The
# budget grows with the file, so a hostile file costs time linear in its size.
READS_BASE = 50_000
READS_PER_BYTE = 1 / 64
MAX_SECTIONS = 4096
MAX_DYNAMIC_TAGS = 1 << 14
MAX_SYMBOLS = 1 << 20
MAX_VERSION_ENTRIES = 1 << 14
MAX_INTERP = 4096  # the kernel's own limit is PATH_MAX

PN_XNUM = 0xFFFF  # gABI: e_phnum overflow, the real count is sh_info of section header 0
_EHDR_SIZE = {1: 52, 2: 64}  # gABI sizeof(Elf32_Ehdr), sizeof(Elf64_Ehdr)
PF_X, PF_W = 0x1, 0x2
VER_FLG_WEAK = 0x2  # elf.h: weak version reference
_STRING_TAGS = frozenset({"DT_NEEDED", "DT_SONAME", "DT_RPATH", "DT_RUNPATH"})


class _Stream:
    """The file as pyelftools sees it: seekable, and every read is counted against a budget.

    A loop in pyelftools reads at least once per turn, so the budget bounds every loop that a
    hostile count could otherwise stretch to minutes, without a check at each call site.
    """

    def __init__(self, raw: BinaryIO, size: int, label: str) -> None:
        self._raw = raw
        self.size = size
        self.label = label
        self.reads = 0
        self.max_reads = READS_BASE + int(size * READS_PER_BYTE)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._raw.seek(offset, whence)

    def tell(self) -> int:
        return self._raw.tell()

    def read(self, size: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > self.max_reads:
            raise ElfError(
                f"{self.label}: more than {self.max_reads} reads: tables too large or looping"
            )
        return self._raw.read(self.size if size is None or size < 0 else min(size, self.size))


@dataclass(slots=True)
class DynamicFacts:
    """What ld.so takes from ``PT_DYNAMIC``, as plain Python values (filled while reading)."""

    needed: list[str] = field(default_factory=list)
    strings: dict[str, str] = field(default_factory=dict)  # SONAME/RPATH/RUNPATH: last wins
    values: dict[str, int] = field(default_factory=dict)  # d_tag name -> d_val: last wins
    terminated: bool = False  # DT_NULL seen within p_filesz


class ElfFile:
    """One ELF file opened through pyelftools, with the checks the kernel and ld.so make."""

    def __init__(self, source: bytes | bytearray | memoryview | BinaryIO, label: str) -> None:
        if isinstance(source, bytes | bytearray | memoryview):
            source = io.BytesIO(bytes(source))
        self.label = label
        self.stream = _Stream(source, source.seek(0, io.SEEK_END), label)
        self._check_ident()
        # pyelftools is typed against IO[bytes]; _Stream has the three methods it calls.
        self.elf = ELFFile(cast("BinaryIO", self.stream))
        self.is64 = self.elf.elfclass == 64
        self._shoff = self._phnum = 0
        self.has_sections = self._check_section_table()
        self.segments = self._segments()
        self._sections: dict[str, Section] | None = None
        self._dt_strings: bytes | None = None

    # --- errors and bounded reads ------------------------------------------------------------

    def error(self, message: str) -> ElfError:
        return ElfError(f"{self.label}: {message}")

    def check(self, offset: int, size: int, what: str) -> None:
        if offset < 0 or size < 0 or offset + size > self.stream.size:
            raise self.error(
                f"{what} at offset {offset:#x} (size {size}) lies outside the file"
                f" ({self.stream.size} bytes)"
            )

    def read(self, offset: int, size: int, what: str) -> bytes:
        self.check(offset, size, what)
        self.stream.seek(offset)
        data = self.stream.read(size)
        if len(data) != size:
            raise self.error(f"short read of {what} at offset {offset:#x}")
        return data

    # --- ELF header, program headers, section headers ---------------------------------------

    def _check_ident(self) -> None:
        """``e_ident`` checked before pyelftools, for errors that name the bad byte."""
        ident = self.read(0, 16, "e_ident")
        if ident[:4] != ELF_MAGIC:
            raise self.error(f"invalid ELF magic {ident[:4]!r}")
        if ident[4] not in _EHDR_SIZE:
            raise self.error(f"invalid EI_CLASS {ident[4]}")
        if ident[5] not in (1, 2):
            raise self.error(f"invalid EI_DATA {ident[5]}")
        self.check(16, _EHDR_SIZE[ident[4]] - 16, "ELF header")

    def header(self) -> tuple[ElfClass, bool, int, int, int]:
        """(class, little-endian, e_machine, EI_OSABI, e_type) as the integers of the spec."""
        return (
            ElfClass(2 if self.is64 else 1),
            bool(self.elf.little_endian),
            _enum_value(self.elf["e_machine"], ENUM_E_MACHINE),
            self.elf.e_ident_raw[7],
            _enum_value(self.elf["e_type"], ENUM_E_TYPE),
        )

    def _check_section_table(self) -> bool:
        """Whether the section header table is usable, then hide it from pyelftools.

        ld.so never reads section headers, so a table that is absent, out of the file or
        absurdly long leaves the file loadable: the facts then come from ``PT_DYNAMIC`` alone.

        Either way pyelftools reads the segments with ``e_shoff`` zeroed in its parsed copy of
        the header (the file is not touched): ``DynamicSegment`` then resolves names through
        ``DT_STRTAB`` as ld.so does, instead of walking every section header (and parsing the
        hash tables an element at a time) in its constructor and again on every address
        lookup, measured at 50 ms per walk on libLLVM-15. :meth:`_named_sections` shows the
        table to pyelftools for the one pass that reads it.
        """
        elf = self.elf
        shoff, shentsize, size = elf["e_shoff"], elf["e_shentsize"], self.stream.size
        usable = (
            shoff != 0
            and shentsize >= elf.structs.Elf_Shdr.sizeof()
            and shoff + shentsize <= size
            and 0 < elf.num_sections() <= MAX_SECTIONS
            and shoff + elf.num_sections() * shentsize <= size
            and elf.get_shstrndx() < elf.num_sections()
        )
        if shoff != 0 and not usable:
            log.debug("%s: section header table unusable, reading PT_DYNAMIC only", self.label)
        self._shoff = shoff if usable else 0
        if elf["e_phnum"] == PN_XNUM:  # the real count is in section header 0
            if not usable:
                raise self.error("e_phnum is PN_XNUM but there is no section header 0")
            self._phnum = elf.num_segments()
        else:
            self._phnum = elf["e_phnum"]
        elf.header["e_shoff"] = 0
        return usable

    def _segments(self) -> tuple[Segment, ...]:
        elf, entsize = self.elf, self.elf.structs.Elf_Phdr.sizeof()
        if self._phnum == 0:
            return ()
        if elf["e_phentsize"] < entsize:
            raise self.error(f"e_phentsize {elf['e_phentsize']} is smaller than {entsize}")
        self.check(elf["e_phoff"], elf["e_phentsize"] * self._phnum, "program header table")
        return tuple(elf.get_segment(i) for i in range(self._phnum))

    def _named_sections(self) -> dict[str, Section]:
        """The sections linkcheck uses, found in one pass: by type, or by name for Go's."""
        if self._sections is None:
            self._sections = {}
            wanted = {"SHT_DYNSYM", "SHT_GNU_versym", "SHT_GNU_verneed", "SHT_GNU_verdef"}
            self.elf.header["e_shoff"] = self._shoff
            try:
                for section in self.elf.iter_sections() if self.has_sections else ():
                    kind = section["sh_type"]
                    key = kind if kind in wanted else section.name
                    if key in wanted or key == ".go.buildinfo":
                        self._sections.setdefault(key, section)
            finally:
                self.elf.header["e_shoff"] = 0
        return self._sections

    def section_bytes(self, section: Section, what: str) -> bytes:
        """A section's bytes, refusing what an allocated table never is (pyelftools would
        inflate a compressed section, or fabricate zeros for NOBITS, of any announced size)."""
        if section["sh_type"] == "SHT_NOBITS" or section.compressed:
            raise self.error(f"{what} has no plain bytes in the file ({section['sh_type']})")
        return self.read(section["sh_offset"], section["sh_size"], what)

    # --- program facts ----------------------------------------------------------------------

    def interp(self) -> str | None:
        segment = next((s for s in self.segments if s["p_type"] == "PT_INTERP"), None)
        if segment is None:
            return None
        size = segment["p_filesz"]
        if not 0 < size <= MAX_INTERP:
            raise self.error(f"PT_INTERP size {size} is out of range")
        raw = self.read(segment["p_offset"], size, "PT_INTERP")
        # The kernel refuses an interpreter path that is not NUL-terminated (fs/binfmt_elf.c,
        # load_elf_binary: "elf_interpreter[p_filesz - 1] != '\0'" -> ENOEXEC).
        if not raw.endswith(b"\0"):
            raise self.error(f"PT_INTERP {raw[:64]!r} is not NUL-terminated")
        return raw[:-1].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")

    def dynamic_segment(self) -> DynamicSegment | None:
        return next((s for s in self.segments if isinstance(s, DynamicSegment)), None)

    def dynamic(self, segment: DynamicSegment) -> DynamicFacts:
        """The dynamic array, read up to ``DT_NULL`` but never past ``p_filesz``."""
        self.check(segment["p_offset"], segment["p_filesz"], "PT_DYNAMIC")
        # ld.so resolves every name through DT_STRTAB; without it (or unmapped) nothing can be
        # read, and pyelftools would fail on an assert when no section names the table.
        pointer, offset = segment.get_table_offset("DT_STRTAB")
        if pointer is None:
            raise self.error("PT_DYNAMIC has no DT_STRTAB")
        if offset is None:
            raise self.error(f"DT_STRTAB address {pointer:#x} is in no PT_LOAD segment")
        limit = segment["p_filesz"] // self.elf.structs.Elf_Dyn.sizeof()
        facts = DynamicFacts()
        for index, tag in enumerate(segment.iter_tags()):
            if index >= min(limit, MAX_DYNAMIC_TAGS):
                if index >= MAX_DYNAMIC_TAGS:
                    raise self.error(f"PT_DYNAMIC has more than {MAX_DYNAMIC_TAGS} entries")
                break
            name = tag.entry.d_tag
            if name == "DT_NULL":
                facts.terminated = True
                break
            if name in _STRING_TAGS:
                # pyelftools sets the resolved string as an attribute named after the tag.
                value = str(getattr(tag, name[3:].lower()))
                if name == "DT_NEEDED":
                    facts.needed.append(value)
                else:
                    facts.strings[name] = value
            if isinstance(name, str):
                facts.values[name] = tag.entry.d_val
        return facts

    def offset_of(self, facts: DynamicFacts, tag: str) -> int | None:
        """File offset of the address a ``DT_*`` tag holds; None when the tag is absent."""
        vaddr = facts.values.get(tag)
        if vaddr is None:
            return None
        offset = self.vaddr_to_offset(vaddr)
        if offset is None:
            raise self.error(f"{tag} address {vaddr:#x} is in no PT_LOAD segment")
        return offset

    def vaddr_to_offset(self, vaddr: int) -> int | None:
        """The rule of pyelftools' ``address_offsets()`` over the segments already read (it
        re-creates every segment object per call)."""
        for segment in self.segments:
            start = segment["p_vaddr"]
            if segment["p_type"] == "PT_LOAD" and start <= vaddr < start + segment["p_filesz"]:
                return int(segment["p_offset"] + vaddr - start)
        return None

    # --- symbols ------------------------------------------------------------------------------

    def symbols(self, facts: DynamicFacts) -> DynamicSymbols | None:
        """``.dynsym`` decoded in bulk; None when unknown (no table, or no way to size it)."""
        entsize = symbol_size(self.is64)
        if facts.values.get("DT_SYMENT", entsize) != entsize:
            raise self.error(f"DT_SYMENT {facts.values['DT_SYMENT']} is not {entsize}")
        sections = self._named_sections()
        dynsym = sections.get("SHT_DYNSYM")
        if isinstance(dynsym, SymbolTableSection):
            if dynsym["sh_entsize"] != entsize:
                raise self.error(f".dynsym sh_entsize {dynsym['sh_entsize']} is not {entsize}")
            table = self.section_bytes(dynsym, ".dynsym")
            strings = self.section_bytes(dynsym.stringtable, ".dynstr")
        else:
            located = self._symbols_from_dynamic(facts, entsize)
            if located is None:
                return None
            table, strings = located
        if len(table) // entsize > MAX_SYMBOLS:
            raise self.error(f".dynsym holds {len(table) // entsize} symbols, too many")
        table = table[: len(table) - len(table) % entsize]
        return decode_symbols(
            table,
            strings,
            self._versym(facts, len(table) // entsize),
            is64=self.is64,
            little_endian=bool(self.elf.little_endian),
            label=self.label,
        )

    def _symbols_from_dynamic(
        self, facts: DynamicFacts, entsize: int
    ) -> tuple[bytes, bytes] | None:
        """No section headers: DT_SYMTAB, sized by pyelftools' ``num_symbols()`` (the hash
        tables, else the next table's address), once the arrays it parses are known to fit."""
        symtab = self.offset_of(facts, "DT_SYMTAB")
        segment = self.dynamic_segment()
        if symtab is None or segment is None or not facts.terminated:
            return None  # without DT_NULL pyelftools' tag scans would run past the segment
        self._check_hash_tables(facts)
        count = segment.num_symbols()
        if count > MAX_SYMBOLS:
            raise self.error(f"DT_SYMTAB symbol count {count} is implausible")
        table = self.read(symtab, count * entsize, f"DT_SYMTAB ({count} symbols)")
        return table, self.dt_strings(facts)

    def _check_hash_tables(self, facts: DynamicFacts) -> None:
        """The hash-table arrays pyelftools will parse must lie inside the file."""
        endian = "<" if self.elf.little_endian else ">"
        if (gnu := self._mapped(facts, "DT_GNU_HASH")) is not None:
            nbuckets, _symoffset, bloom_size, _shift = struct.unpack(
                endian + "4I", self.read(gnu, 16, "DT_GNU_HASH header")
            )
            words = bloom_size * (2 if self.is64 else 1) + nbuckets
            self.check(gnu, 16 + 4 * words, "DT_GNU_HASH")
        elif (sysv := self._mapped(facts, "DT_HASH")) is not None:
            nbucket, nchain = struct.unpack(endian + "2I", self.read(sysv, 8, "DT_HASH header"))
            self.check(sysv, 8 + 4 * (nbucket + nchain), "DT_HASH")

    def _mapped(self, facts: DynamicFacts, tag: str) -> int | None:
        # pyelftools skips a hash table whose address maps to no segment; so does this check.
        vaddr = facts.values.get(tag)
        return None if vaddr is None else self.vaddr_to_offset(vaddr)

    def dt_strings(self, facts: DynamicFacts) -> bytes:
        """The ``DT_STRTAB`` bytes (``DT_STRSZ`` long, else to the end of the file), read once."""
        if self._dt_strings is None:
            offset = self.offset_of(facts, "DT_STRTAB")
            assert offset is not None  # dynamic() refused a PT_DYNAMIC without it
            size = facts.values.get("DT_STRSZ", self.stream.size - offset)
            self._dt_strings = self.read(offset, size, "DT_STRTAB string table")
        return self._dt_strings

    def _versym(self, facts: DynamicFacts, count: int) -> bytes | None:
        section = self._named_sections().get("SHT_GNU_versym")
        if section is not None:
            return self.section_bytes(section, ".gnu.version")
        offset = self.offset_of(facts, "DT_VERSYM")
        return None if offset is None else self.read(offset, 2 * count, "DT_VERSYM")

    # --- symbol versions ----------------------------------------------------------------------

    def version_needs(
        self, facts: DynamicFacts, symbols: DynamicSymbols | None
    ) -> tuple[VersionNeed, ...]:
        """``.gnu.version_r`` through pyelftools; stops where readelf stops (a 0 link)."""
        table = self._version_table("SHT_GNU_verneed", facts, "DT_VERNEED", "DT_VERNEEDNUM")
        if not isinstance(table, GNUVerNeedSection):
            return ()
        by_version = symbols.by_version if symbols is not None else None
        result: list[VersionNeed] = []
        for need, auxiliaries in table.iter_versions():
            for aux in auxiliaries:
                result.append(
                    VersionNeed(
                        file=need.name or "",
                        version=aux.name,
                        weak=bool(aux["vna_flags"] & VER_FLG_WEAK),
                        symbols=None
                        if by_version is None
                        else by_version.get(aux["vna_other"], ()),
                    )
                )
                self._count_versions(len(result), "version needs")
                if aux["vna_next"] == 0:
                    break
            if need["vn_next"] == 0:
                break
        return tuple(result)

    def version_defs(self, facts: DynamicFacts) -> tuple[str, ...]:
        """``.gnu.version_d`` names, in order: each definition's first auxiliary names it."""
        table = self._version_table("SHT_GNU_verdef", facts, "DT_VERDEF", "DT_VERDEFNUM")
        if not isinstance(table, GNUVerDefSection):
            return ()
        result: list[str] = []
        for definition, auxiliaries in table.iter_versions():
            result.append(next(auxiliaries).name)
            self._count_versions(len(result), "version definitions")
            if definition["vd_next"] == 0:
                break
        return tuple(result)

    def _count_versions(self, count: int, what: str) -> None:
        if count > MAX_VERSION_ENTRIES:
            raise self.error(f"more than {MAX_VERSION_ENTRIES} {what}")

    def _version_table(
        self, sh_type: str, facts: DynamicFacts, tag: str, count_tag: str
    ) -> GNUVersionSection | Section | None:
        """The version section; without one, pyelftools' own section class over the table
        ``DT_VERNEED``/``DT_VERDEF`` points at (given the header the section would have had)."""
        section = self._named_sections().get(sh_type)
        if section is not None:
            return section
        offset = self.offset_of(facts, tag)
        if offset is None:
            return None
        header = Container(
            sh_name=0,
            sh_type=sh_type,
            sh_flags=0,
            sh_addr=facts.values[tag],
            sh_offset=offset,
            sh_size=0,
            sh_link=0,
            sh_info=facts.values.get(count_tag, 0),
            sh_addralign=0,
            sh_entsize=0,
        )
        cls = GNUVerNeedSection if sh_type == "SHT_GNU_verneed" else GNUVerDefSection
        strings = cast("StringTableSection", _Strings(self.dt_strings(facts)))
        return cls(header, "", self.elf, strings)

    # --- gobuildinfo.ProgramImage -------------------------------------------------------------

    def section_address(self, name: str) -> int | None:
        section = self._named_sections().get(name)
        if section is None or section["sh_type"] == "SHT_NOBITS":
            return None
        return int(section["sh_addr"])

    def data_segment_address(self) -> int | None:
        for segment in self.segments:
            if segment["p_type"] == "PT_LOAD" and segment["p_flags"] & (PF_X | PF_W) == PF_W:
                return int(segment["p_vaddr"])
        return None

    def read_memory(self, vaddr: int, size: int) -> bytes:
        for segment in self.segments:
            start, filesz = segment["p_vaddr"], segment["p_filesz"]
            if segment["p_type"] == "PT_LOAD" and start <= vaddr < start + filesz:
                offset = segment["p_offset"] + vaddr - start
                size = max(0, min(size, start + filesz - vaddr, self.stream.size - offset))
                return self.read(offset, size, "PT_LOAD data") if size else b""
        return b""


class _Strings:
    """``get_string`` over ``DT_STRTAB`` bytes, for pyelftools' version-section classes."""

    def __init__(self, table: bytes) -> None:
        self._table = table

    def get_string(self, offset: int) -> str:
        end = self._table.index(b"\0", offset)  # ValueError when absent: wrapped by parse.py
        return self._table[offset:end].decode("utf-8", "surrogateescape")


def _enum_value(value: Any, names: Any) -> int:
    """pyelftools gives known enum values as names ("EM_X86_64"), unknown ones as ints."""
    return int(names[value]) if isinstance(value, str) else int(value)
