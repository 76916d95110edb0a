"""Typed facts about one ELF file: what ``linkcheck.elf.parse_elf`` returns.

Only ``linkcheck/elf`` imports an ELF parsing library; everything else sees these classes.
"None" means *unknown* (stripped, absent section), never "empty".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "ElfClass",
    "ElfInfo",
    "GoBuildInfo",
    "Linkage",
    "VersionNeed",
    "machine_to_arch",
]


class ElfClass(enum.IntEnum):
    ELFCLASS32 = 1
    ELFCLASS64 = 2


class Linkage(enum.Enum):
    STATIC = "static"  # no PT_INTERP; no PT_DYNAMIC or ET_EXEC
    STATIC_PIE = "static-pie"  # ET_DYN, PT_DYNAMIC, no PT_INTERP, DF_1_PIE, no DT_SONAME
    DYNAMIC = "dynamic"  # PT_INTERP present (even with no DT_NEEDED)
    SHARED_LIBRARY = "shared-library"  # ET_DYN, PT_DYNAMIC, no PT_INTERP, not a static-pie


# e_machine -> OCI/Go architecture name (elf.h / Go's GOARCH)
_MACHINES: dict[int, str] = {
    3: "386",
    8: "mips",
    20: "ppc",
    21: "ppc64",
    22: "s390x",
    40: "arm",
    62: "amd64",
    183: "arm64",
    243: "riscv64",
    258: "loong64",
}


def machine_to_arch(e_machine: int, elf_class: ElfClass, little_endian: bool) -> str | None:
    """The OCI architecture an ELF machine runs on, or None if linkcheck does not know it."""
    arch = _MACHINES.get(e_machine)
    if arch in ("amd64", "arm64", "riscv64", "loong64") and elf_class is ElfClass.ELFCLASS32:
        return None  # x32 / ILP32: 32-bit ABIs of 64-bit machines, no OCI platform
    if arch == "ppc64" and little_endian:
        return "ppc64le"
    if arch == "mips":
        bits = "64" if elf_class is ElfClass.ELFCLASS64 else ""
        return f"mips{bits}{'le' if little_endian else ''}"
    return arch


@dataclass(frozen=True, slots=True)
class VersionNeed:
    """One entry of ``.gnu.version_r``: ``file`` must define ``version``."""

    file: str  # the soname the version is needed from, e.g. "libc.so.6"
    version: str  # e.g. "GLIBC_2.34"
    weak: bool
    symbols: tuple[str, ...] | None  # undefined symbols bound to this version; None if unknown


@dataclass(frozen=True, slots=True)
class GoBuildInfo:
    """What ``go version -m`` prints, read from ``.go.buildinfo``."""

    go_version: str  # "go1.22.1"
    path: str | None  # main package path
    main_module: str | None
    settings: tuple[tuple[str, str], ...]  # ("CGO_ENABLED", "1"), ("-buildmode", "exe"), ...

    def setting(self, key: str) -> str | None:
        for name, value in self.settings:
            if name == key:
                return value
        return None

    @property
    def cgo_enabled(self) -> bool | None:
        value = self.setting("CGO_ENABLED")
        return None if value is None else value == "1"


@dataclass(frozen=True, slots=True)
class ElfInfo:
    elf_class: ElfClass
    little_endian: bool
    machine: int  # e_machine
    osabi: int  # e_ident[EI_OSABI]
    e_type: int  # ET_EXEC=2, ET_DYN=3 (PIE executables are ET_DYN too)
    interp: str | None  # PT_INTERP, None when absent
    has_dynamic: bool  # PT_DYNAMIC present
    needed: tuple[str, ...]  # DT_NEEDED in order
    soname: str | None
    rpath: tuple[str, ...] | None  # DT_RPATH split on ":", None when absent
    runpath: tuple[str, ...] | None  # DT_RUNPATH split on ":", None when absent
    flags_1: int  # DT_FLAGS_1 (0 when absent)
    version_needs: tuple[VersionNeed, ...]  # .gnu.version_r
    version_defs: tuple[str, ...]  # .gnu.version_d names (first is the file's own name)
    undefined_symbols: tuple[str, ...] | None  # .dynsym undefined, non-weak; None if unknown
    defined_symbols: frozenset[str] | None  # .dynsym defined (exported); None if unknown
    go: GoBuildInfo | None  # None: not a Go binary, or build info absent

    ET_EXEC = 2
    ET_DYN = 3
    DF_1_NODEFLIB = 0x800  # elf.h
    DF_1_PIE = 0x08000000

    @property
    def arch(self) -> str | None:
        return machine_to_arch(self.machine, self.elf_class, self.little_endian)

    @property
    def nodeflib(self) -> bool:
        return bool(self.flags_1 & self.DF_1_NODEFLIB)

    @property
    def linkage(self) -> Linkage:
        """How the kernel starts this file (../shared/FACTS.md "Static, static-pie, dynamic").

        Decided from the ELF itself: ``PT_INTERP`` means the kernel loads that loader
        (dynamic, even with no ``DT_NEEDED``: Go ``-buildmode=pie``); without it the kernel
        jumps straight to the entry point, so nothing will ever load ``DT_NEEDED``. ``e_type``
        alone cannot tell a PIE from a library; ``DF_1_PIE`` (set by current GNU ld and lld
        for ``-pie``/``-static-pie`` output) and ``DT_SONAME`` can. A static-pie from a
        linker too old to set ``DF_1_PIE`` reads as a shared library.
        """
        if self.interp is not None:
            return Linkage.DYNAMIC
        if not self.has_dynamic or self.e_type == self.ET_EXEC:
            # An ET_EXEC with PT_DYNAMIC but no PT_INTERP is still started directly.
            return Linkage.STATIC
        if self.soname is None and self.flags_1 & self.DF_1_PIE:
            return Linkage.STATIC_PIE
        return Linkage.SHARED_LIBRARY
