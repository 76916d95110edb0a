"""Typed ELF facts for the loader emulation: the only package that reads ELF bytes.

API: ``parse_elf(source: bytes | BinaryIO, *, name="") -> ElfInfo`` (raises
:class:`linkcheck.errors.ElfError`, and nothing else, on malformed input) and
``is_elf(header: bytes) -> bool``; the result types are in :mod:`linkcheck.elf.info`, the Go
build info reader in :mod:`linkcheck.elf.gobuildinfo`.

What is read, and how: the ELF header, the program headers, ``PT_INTERP`` and ``PT_DYNAMIC``,
then the tables the dynamic array points at (``DT_STRTAB``, ``DT_SYMTAB`` counted through
``DT_GNU_HASH``/``DT_HASH``, ``DT_VERSYM``, ``DT_VERNEED``, ``DT_VERDEF``), mapped through the
``PT_LOAD`` segments exactly as ld.so maps them. Section headers are consulted only to find
``.go.buildinfo`` and to size a ``.dynsym`` that no hash table counts, so binaries with
stripped section headers give the same answers. A stream is read in place, a few small reads
per file (a 2 MB Go binary: well under a quarter of its bytes).

Parser choice, by measurement (``tests/bench/bench_elf.py``, 2-core Debian 12 VM, Python 3.11,
pyelftools 0.33, LIEF 1.0.0; the same facts from each: PT_INTERP, DT_NEEDED/SONAME/RPATH/
RUNPATH, version needs and definitions, dynamic symbols; each parser in a fresh process)::

    400 ELF files, 326 MB (/usr/lib/x86_64-linux-gnu/*.so*, /usr/bin/*)
    parser       mean ms   median   max ms  total s  peak RSS
    linkcheck       1.05     0.32    106.0     0.42      42MB
    pyelftools     67.02    16.99   5208.2    26.81      23MB
    lief            1.29     0.24    163.9     0.52     182MB

    libLLVM-15.so.1 (117 MB, 46,325 dynamic symbols), one file per process
    linkcheck      101 ms   peak RSS  42 MB (+25 MB)
    pyelftools    4334 ms   peak RSS  22 MB (+4 MB)
    lief           160 ms   peak RSS 189 MB (+123 MB)

pyelftools builds a ``construct`` container per symbol (255 ms for libc.so.6's 3,000 symbols);
LIEF is as fast but loads the whole file and its own model (+123 MB for one big library, a
C++ extension wheel, and less control over hostile input). The reader here uses :mod:`struct`
over the few ranges the loader itself reads, checks every offset and count against the file
size before using it, and so needs neither library at run time.
"""

from __future__ import annotations

from linkcheck.elf.info import ElfClass, ElfInfo, GoBuildInfo, Linkage, VersionNeed
from linkcheck.elf.parse import is_elf, parse_elf

__all__ = ["ElfClass", "ElfInfo", "GoBuildInfo", "Linkage", "VersionNeed", "is_elf", "parse_elf"]
