"""``parse_elf``: bytes or a stream in, a typed :class:`ElfInfo` out, an :class:`ElfError` on
anything malformed.

This is the one choke point for ELF errors: problems found by linkcheck's own checks are
raised as :class:`linkcheck.errors.ElfError` naming the bad value, and every exception that
pyelftools (or the built-ins its code reaches) raises on a hostile file is wrapped here, once,
naming the file and what pyelftools said.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.elf._elffile import ELF_MAGIC, THIRD_PARTY_ERRORS, ElfFile
from linkcheck.elf.gobuildinfo import find_go_buildinfo
from linkcheck.elf.info import ElfInfo
from linkcheck.errors import ElfError

if TYPE_CHECKING:
    from typing import BinaryIO

__all__ = ["is_elf", "parse_elf"]


def is_elf(header: bytes) -> bool:
    """True when ``header`` (the first bytes of a file, at least 4) starts with the ELF magic."""
    return header[:4] == ELF_MAGIC


def _split_path(value: str | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value.split(":"))


def _parse(source: bytes | BinaryIO, label: str) -> ElfInfo:
    elf = ElfFile(source, label)
    elf_class, little_endian, machine, osabi, e_type = elf.header()
    segment = elf.dynamic_segment()
    facts = elf.dynamic(segment) if segment is not None else None
    symbols = elf.symbols(facts) if facts is not None else None
    return ElfInfo(
        elf_class=elf_class,
        little_endian=little_endian,
        machine=machine,
        osabi=osabi,
        e_type=e_type,
        interp=elf.interp(),
        has_dynamic=facts is not None,
        needed=tuple(facts.needed) if facts else (),
        soname=facts.strings.get("DT_SONAME") if facts else None,
        rpath=_split_path(facts.strings.get("DT_RPATH")) if facts else None,
        runpath=_split_path(facts.strings.get("DT_RUNPATH")) if facts else None,
        flags_1=facts.values.get("DT_FLAGS_1", 0) if facts else 0,
        version_needs=elf.version_needs(facts, symbols) if facts else (),
        version_defs=elf.version_defs(facts) if facts else (),
        # A file without PT_DYNAMIC has no dynamic symbols at all: known and empty.
        undefined_symbols=symbols.undefined if symbols is not None else (None if facts else ()),
        defined_symbols=symbols.defined
        if symbols is not None
        else (None if facts else frozenset()),
        go=find_go_buildinfo(elf),
    )


def _own_error(error: BaseException) -> ElfError | None:
    seen: BaseException | None = error
    for _ in range(16):  # a short chain: construct wraps once, pyelftools once more
        if seen is None or isinstance(seen, ElfError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def parse_elf(source: bytes | BinaryIO, *, name: str = "") -> ElfInfo:
    """Read the loader-relevant facts of one ELF file.

    ``source`` is the whole file as bytes, or a seekable binary stream (only the parts the
    loader reads are read). ``name`` is used in error messages. Raises :class:`ElfError` for
    anything that is not a well-formed ELF file; ``OSError`` from the stream passes through.
    """
    label = name or "ELF file"
    try:
        return _parse(source, label)
    except (ElfError, OSError):
        raise
    except THIRD_PARTY_ERRORS as e:
        # An ElfError of ours (the read budget) raised inside pyelftools' construct parsing
        # comes back wrapped in its errors: report our own message.
        inner = _own_error(e)
        if inner is not None:
            raise inner from e
        raise ElfError(f"{label}: malformed ELF data ({type(e).__name__}: {e})") from e
