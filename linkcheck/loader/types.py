"""What a loader emulation records: objects loaded, directories searched, candidates refused.

Shared by the glibc and musl strategies and by the resolver; the checks read these facts
and turn them into findings. Nothing here does I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeAlias

if TYPE_CHECKING:
    from linkcheck.elf.info import ElfInfo

__all__ = [
    "Candidate",
    "CandidateVerdict",
    "LibraryLookup",
    "LoadedObject",
    "LookupStatus",
    "Probe",
    "SearchDir",
    "SearchOutcome",
    "SearchSource",
]


class SearchSource(enum.Enum):
    """Where a search directory (or a found library) came from."""

    PATH = "path"  # DT_NEEDED with a slash: opened as written
    LOADED = "already-loaded"  # matched an object loaded earlier (soname / name)
    INTERPRETER = "interpreter"  # the loader itself (ld.so's soname, musl's reserved names)
    RPATH = "DT_RPATH"
    LD_LIBRARY_PATH = "LD_LIBRARY_PATH"
    RUNPATH = "DT_RUNPATH"
    LD_CACHE = "ld.so.cache"
    DEFAULT = "default"  # the loader's compiled-in directories
    PATH_FILE = "path-file"  # musl's /etc/ld-musl-$ARCH.path


class CandidateVerdict(enum.Enum):
    ACCEPTED = "accepted"
    WRONG_CLASS = "wrong-class"  # glibc skips it and searches on (dl-load.c open_verify)
    WRONG_MACHINE = "wrong-machine"  # likewise
    NOT_ELF = "not-elf"  # glibc stops: "invalid ELF header"
    MALFORMED = "malformed"  # ELF magic, but unparsable


class LookupStatus(enum.Enum):
    FOUND = "found"
    NOT_FOUND = "not-found"
    WRONG_CLASS_ONLY = "wrong-class-only"  # only candidates of another class/machine exist
    STALE_CACHE = "stale-cache"  # only reachable through /etc/ld.so.conf, not in the cache
    INVALID = "invalid"  # the first candidate is not a loadable ELF: the loader gives up


# probe(path) -> None when nothing is there, else the verdict and a detail for the record.
# The resolver builds it (it owns the file cache); the strategies only decide the order.
Probe: TypeAlias = Callable[[str], "tuple[CandidateVerdict, str | None] | None"]


@dataclass(frozen=True, slots=True)
class SearchDir:
    path: str  # the directory as the loader forms it (DSTs expanded)
    source: SearchSource
    owner: str | None = None  # whose DT_RPATH/DT_RUNPATH it came from

    def __str__(self) -> str:
        owner = f" of {self.owner}" if self.owner else ""
        return f"{self.path} ({self.source.value}{owner})"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A file that exists under the searched name but was not (or was) taken."""

    path: str
    verdict: CandidateVerdict
    detail: str | None = None  # "ELFCLASS32", "arm64", the parser's message

    def __str__(self) -> str:
        extra = f": {self.detail}" if self.detail else ""
        return f"{self.path} ({self.verdict.value}{extra})"


@dataclass(frozen=True, slots=True)
class LoadedObject:
    """One ELF object in the process image, as the loader would have mapped it."""

    path: str  # as opened: "/usr/lib/x86_64-linux-gnu/libc.so.6" (the name $ORIGIN uses)
    real_path: str  # after symlinks inside the image
    info: ElfInfo
    searched_as: str | None  # the DT_NEEDED name; None for the executable
    source: SearchSource | None  # how it was found; None for the executable
    depth: int  # 0 for the executable
    needed_by: str | None  # real path of the first object that needed it
    hops: tuple[str, ...] = ()
    layer: int | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Names that match it for dedupe: soname, searched name, basename (dl-misc.c
        _dl_name_match_p compares l_name and the soname; musl compares the short name)."""
        out = [n for n in (self.info.soname, self.searched_as) if n]
        out.append(self.path.rsplit("/", 1)[-1])
        return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class LibraryLookup:
    """One DT_NEEDED entry of one object, and how the loader fared looking for it."""

    name: str
    needed_by: str  # real path of the needing object
    status: LookupStatus
    found: LoadedObject | None = None
    source: SearchSource | None = None
    searched: tuple[SearchDir, ...] = ()
    rejected: tuple[Candidate, ...] = ()
    note: str | None = (
        None  # e.g. the ld.so.conf directory holding a library missing from the cache
    )

    @property
    def ok(self) -> bool:
        return self.status is LookupStatus.FOUND


@dataclass(slots=True)
class SearchOutcome:
    """What a strategy's search for one name produced (mutable while the search runs)."""

    status: LookupStatus
    path: str | None = None
    source: SearchSource | None = None
    searched: list[SearchDir] = field(default_factory=list)
    rejected: list[Candidate] = field(default_factory=list)
    note: str | None = None
