"""The facts every rule reads: gathered once by the analysis, never recomputed by a check."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.model import Severity

if TYPE_CHECKING:
    from linkcheck.entrypoints import EntrypointResolution, ExecStep
    from linkcheck.loader.objects import ObjectFile
    from linkcheck.loader.resolver import Closure
    from linkcheck.model import BaseInfo, DetailValue, Platform

__all__ = ["Facts", "Scope", "Target"]


class Scope(enum.Enum):
    ENTRYPOINT = "entrypoint"  # exec'd on the way to main: problems stop the start
    SCAN_ALL = "scan-all"  # any other ELF program of the image (analyze --all)
    SCAN_LIBRARY = "scan-all-library"  # a library no program loads, checked on its own


@dataclass(frozen=True, slots=True)
class Target:
    """One ELF file to check, with its loader closure when it has one."""

    file: ObjectFile
    closure: Closure | None  # None: static, not ELF, or nothing to load
    scope: Scope
    step: ExecStep | None = None  # how the entrypoint reached it (ENTRYPOINT scope)

    def severity(self, usual: Severity) -> Severity:
        """Errors outside the entrypoint's path cannot stop it: they become warnings. A
        library checked on its own lacks the context of the program that dlopen()s it (its
        RPATH, libraries already loaded), so its findings are only information."""
        if usual is not Severity.ERROR or self.scope is Scope.ENTRYPOINT:
            return usual
        return Severity.WARNING if self.scope is Scope.SCAN_ALL else Severity.INFO

    def scope_detail(self) -> tuple[tuple[str, DetailValue], ...]:
        return (("scope", self.scope.value),)


@dataclass(frozen=True, slots=True)
class Facts:
    platform: Platform
    entrypoint: EntrypointResolution
    targets: tuple[Target, ...]  # entrypoint-scope targets first
    base: BaseInfo
    layer_ids: tuple[str, ...] = ()  # layer digests/diff_ids by index, for detail

    def layer_name(self, index: int | None) -> str | None:
        if index is None:
            return None
        if 0 <= index < len(self.layer_ids):
            return f"layer {index} ({self.layer_ids[index]})"
        return f"layer {index}"
