"""Typed ELF facts for the loader emulation: the only package that reads ELF bytes.

API: ``parse_elf(source: bytes | BinaryIO, *, name="") -> ElfInfo`` (raises
:class:`linkcheck.errors.ElfError`, and nothing else, on malformed input) and
``is_elf(header: bytes) -> bool``; the result types are in :mod:`linkcheck.elf.info`, the Go
build info reader in :mod:`linkcheck.elf.gobuildinfo`.

What is read, and how: pyelftools, behind one adapter (:mod:`linkcheck.elf._elffile`, the
only module that imports it), reads the ELF header, the program headers, ``PT_INTERP``, the
``PT_DYNAMIC`` tags (its ``DynamicSegment``), the GNU version tables
(``GNUVerNeedSection``/``GNUVerDefSection.iter_versions``), and locates ``.dynsym``,
``.dynstr``, ``.gnu.version`` and ``.go.buildinfo``. Without section headers the same tables
are reached from the dynamic array, as ld.so reaches them (``DT_SYMTAB`` sized by
``DynamicSegment.num_symbols()``, ``DT_VERSYM``, ``DT_VERNEED``/``DT_VERDEF`` walked by
pyelftools' own version classes), so stripped binaries give the same answers; only a dynamic
array with no ``DT_NULL`` inside ``p_filesz`` then leaves the symbols unknown (``None``). The
symbol and versym records, and nothing else, are decoded in bulk with :mod:`struct`
(:mod:`linkcheck.elf._symbols`). A stream is read in place, never slurped.

Every exception pyelftools raises on a hostile file is wrapped once, in ``parse_elf``, as an
``ElfError`` naming the file. pyelftools trusts counts and offsets, so ranges are checked
against the file size before it is pointed at them, counts are capped, and its reads are
counted against a budget that grows with the file (``tests/test_elf_negative.py``).

Parser choice, by measurement (``tests/bench/bench_elf.py``, 2-core Debian 12 VM, Python 3.11,
pyelftools 0.33, LIEF 1.0.0; the same facts from each: PT_INTERP, DT_NEEDED/SONAME/RPATH/
RUNPATH, version needs and definitions, dynamic symbols; each parser in a fresh process)::

    400 ELF files, 326 MB (/usr/lib/x86_64-linux-gnu/*.so*, /usr/bin/*)
    parser            mean ms   median   max ms  total s  peak RSS
    linkcheck            2.59     2.02     87.2     1.03      49MB
    pyelftools          48.86    13.97   3775.6    19.54      23MB
    pyelftools-nosym     1.98     1.71     51.1     0.79      23MB
    lief                 1.04     0.29    144.7     0.42     182MB

    libLLVM-15.so.1 (117 MB, 46,325 dynamic symbols), one file per process
    linkcheck           92 ms   peak RSS  48 MB (+17 MB)
    pyelftools        3898 ms   peak RSS  22 MB (+4 MB)
    pyelftools-nosym    49 ms   peak RSS  22 MB (+4 MB)
    lief               148 ms   peak RSS 189 MB (+123 MB)

(``linkcheck`` is this package; ``pyelftools`` the same facts with symbols through its
``iter_symbols()``; ``pyelftools-nosym`` without the symbols; the RSS baseline of
``linkcheck`` includes importing the whole ``linkcheck`` package.)

The choice is pyelftools plus the bulk symbol decode. pyelftools alone spends 95% of its
time building a ``construct`` container per symbol (255 ms for libc.so.6, 3.9 s for
libLLVM-15); decoding those fixed-size records from the bytes it located removes that cost
and leaves its parsing of everything else. LIEF is about as fast but loads the whole file and
its own model (+123 MB peak for one big library, 182 MB for the corpus), and is a C++
extension parsing hostile bytes outside Python's memory safety, with less control over the
limits above.
"""

from __future__ import annotations

from linkcheck.elf.info import ElfClass, ElfInfo, GoBuildInfo, Linkage, VersionNeed
from linkcheck.elf.parse import is_elf, parse_elf

__all__ = ["ElfClass", "ElfInfo", "GoBuildInfo", "Linkage", "VersionNeed", "is_elf", "parse_elf"]
