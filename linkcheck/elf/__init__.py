"""Typed ELF facts for the loader emulation: the only package that reads ELF bytes.

``parse_elf(source, *, name="") -> ElfInfo`` and ``is_elf(header) -> bool``; see
:mod:`linkcheck.elf.info` for the result types. Measurements are in ``tests/bench/bench_elf.py``.
"""

from __future__ import annotations

from linkcheck.elf.info import ElfClass, ElfInfo, GoBuildInfo, Linkage, VersionNeed
from linkcheck.elf.parse import is_elf, parse_elf

__all__ = ["ElfClass", "ElfInfo", "GoBuildInfo", "Linkage", "VersionNeed", "is_elf", "parse_elf"]
