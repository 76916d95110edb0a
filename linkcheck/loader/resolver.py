"""The transitive closure of an executable's libraries, as its own loader would build it.

Breadth-first like glibc's ``_dl_map_object_deps`` and musl's ``load_deps``: every DT_NEEDED
of one object is looked up before the next object's. A name matching an object already
loaded (soname / name it was asked for; the same real file) is not searched again. Each
lookup records what was searched as, where it was found (or not), which directories were
tried, which candidates were refused, the symlink hops and the layer.
"""

from __future__ import annotations

import logging
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from linkcheck.errors import LdCacheError
from linkcheck.loader.glibc import (
    LD_SO_CACHE,
    GlibcSearch,
    detect_layout,
)
from linkcheck.loader.ldcache import LdCache, parse_ld_cache
from linkcheck.loader.musl import MuslSearch, is_reserved, musl_arch
from linkcheck.loader.objects import FileKind, ObjectFile, ObjectReader
from linkcheck.loader.types import (
    Candidate,
    CandidateVerdict,
    LibraryLookup,
    LoadedObject,
    LookupStatus,
    SearchOutcome,
    SearchSource,
)
from linkcheck.model import Libc

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.elf.info import ElfInfo
    from linkcheck.loader.types import Probe

__all__ = ["Closure", "Resolver", "libc_flavour"]

log = logging.getLogger(__name__)

MAX_OBJECTS = 4096  # a hostile image cannot make the closure unbounded
MAX_NEEDED = 1024  # DT_NEEDED entries looked at per object (real programs have < 100)


def libc_flavour(interp: str | None, interp_real_path: str | None = None) -> Libc:
    """Which loader runs the program, from PT_INTERP (``ld-musl-*`` vs ``ld-linux*``).

    The real path wins over the name: Alpine's libc6-compat links
    ``/lib64/ld-linux-x86-64.so.2`` to musl's loader, and musl is what then runs.
    """
    if interp is None:
        return Libc.NONE
    for name in (interp_real_path, interp):
        base = posixpath.basename(name or "")
        if base.startswith("ld-musl-"):
            return Libc.MUSL
    for name in (interp_real_path, interp):
        base = posixpath.basename(name or "")
        if base.startswith(("ld-linux", "ld64.so", "ld.so", "ld-2.")):
            return Libc.GLIBC
    return Libc.UNKNOWN


@dataclass(frozen=True, slots=True)
class Closure:
    """Everything the loader would map for one executable, and every lookup it made."""

    flavour: Libc
    executable: LoadedObject
    interpreter: ObjectFile | None  # PT_INTERP as looked up in the image; None when static
    interpreter_object: LoadedObject | None  # set when the interpreter is a usable ELF
    objects: tuple[LoadedObject, ...]  # load order; the executable first
    lookups: tuple[LibraryLookup, ...]  # in the order the loader made them

    def provider(self, needer: str, name: str) -> LoadedObject | None:
        """The object that answered ``needer``'s DT_NEEDED ``name``."""
        for lookup in self.lookups:
            if lookup.needed_by == needer and lookup.name == name:
                return lookup.found
        return None

    def lookups_of(self, needer: str) -> tuple[LibraryLookup, ...]:
        return tuple(lk for lk in self.lookups if lk.needed_by == needer)


@dataclass(slots=True)
class _State:
    objects: list[LoadedObject] = field(default_factory=list)
    lookups: list[LibraryLookup] = field(default_factory=list)
    parents: dict[str, LoadedObject] = field(default_factory=dict)  # real path -> loader


class Resolver:
    """Builds closures for executables of one root filesystem and one config environment."""

    def __init__(
        self,
        reader: ObjectReader,
        *,
        ld_library_path: str | None,
        cwd: str = "/",
    ) -> None:
        self.reader = reader
        self.ld_library_path = ld_library_path
        self.cwd = cwd or "/"
        self._cache: LdCache | None = None
        self._cache_read = False
        self._strategies: dict[tuple[Libc, str, str | None], GlibcSearch | MuslSearch] = {}

    def ld_cache(self) -> LdCache | None:
        """/etc/ld.so.cache of the image, parsed once; None when absent or unreadable."""
        if not self._cache_read:
            self._cache_read = True
            try:
                data = self.reader.fs.read_bytes(LD_SO_CACHE, limit=64 << 20)
                self._cache = parse_ld_cache(data)
            except (FileNotFoundError, OSError):
                self._cache = None
            except LdCacheError as e:  # a broken cache: glibc ignores it too
                log.info("ignoring unreadable %s: %s", LD_SO_CACHE, e)
                self._cache = None
        return self._cache

    def closure(self, exe: ObjectFile, *, loader: str | None = None) -> Closure:
        """The closure of ``exe`` (which must be a parsed ELF).

        ``loader`` is the interpreter to assume for an object without PT_INTERP that still
        needs libraries (a shared library checked on its own by ``scan_all``).
        """
        if exe.info is None:
            raise ValueError(f"{exe.real_path} is not a parsed ELF file")
        info = exe.info
        root = LoadedObject(
            path=exe.resolution.path,
            real_path=exe.real_path,
            info=info,
            searched_as=None,
            source=None,
            depth=0,
            needed_by=None,
            hops=exe.resolution.hops,
            layer=exe.layer,
        )
        interp_name = info.interp or (loader if info.needed else None)
        interp = self.reader.read(interp_name) if interp_name else None
        flavour = libc_flavour(interp_name, interp.real_path if interp and interp.info else None)
        interp_obj = self._interp_object(interp, interp_name)
        state = _State(objects=[root])
        if flavour is not Libc.NONE:
            self._walk(state, flavour, interp_obj, interp_name or "", info)
        return Closure(
            flavour=flavour,
            executable=root,
            interpreter=interp if info.interp else None,
            interpreter_object=interp_obj,
            objects=tuple(state.objects),
            lookups=tuple(state.lookups),
        )

    def _interp_object(self, interp: ObjectFile | None, name: str | None) -> LoadedObject | None:
        if interp is None or interp.info is None or name is None:
            return None
        return LoadedObject(
            path=name,
            real_path=interp.real_path,
            info=interp.info,
            searched_as=None,
            source=SearchSource.INTERPRETER,
            depth=1,
            needed_by=None,
            hops=interp.resolution.hops,
            layer=interp.layer,
        )

    def _walk(
        self,
        state: _State,
        flavour: Libc,
        interp: LoadedObject | None,
        interp_name: str,
        exe_info: ElfInfo,
    ) -> None:
        strategy = self._strategy(flavour, interp, interp_name, exe_info.arch)
        queue = 0
        while queue < len(state.objects) and len(state.objects) < MAX_OBJECTS:
            needer = state.objects[queue]
            queue += 1
            chain = self._chain(state, needer)
            for name in needer.info.needed[:MAX_NEEDED]:
                state.lookups.append(self._lookup(state, flavour, strategy, interp, chain, name))

    def _strategy(
        self, flavour: Libc, interp: LoadedObject | None, interp_name: str, arch: str | None
    ) -> GlibcSearch | MuslSearch:
        """One search per loader and arch, kept for every closure (scan_all has many)."""
        key = (flavour, interp_name, arch)
        strategy = self._strategies.get(key)
        if strategy is None:
            if flavour is Libc.MUSL:
                real = interp.real_path if interp else interp_name
                strategy = MuslSearch(
                    self.reader.fs, interp_name, self.ld_library_path, musl_arch(real)
                )
            else:
                ld_so = self._ld_so_bytes(interp)
                layout = detect_layout(ld_so, arch, self.reader.fs)
                strategy = GlibcSearch(
                    self.reader.fs, layout, self.ld_library_path, self.ld_cache(), cwd=self.cwd
                )
            self._strategies[key] = strategy
        return strategy

    def _ld_so_bytes(self, interp: LoadedObject | None) -> bytes | None:
        if interp is None:
            return None
        try:
            return self.reader.fs.read_bytes(interp.real_path, limit=16 << 20)
        except (FileNotFoundError, OSError):
            return None

    def _chain(self, state: _State, obj: LoadedObject) -> list[LoadedObject]:
        """obj, the object that loaded it, ... up to the executable (l_loader in glibc)."""
        chain = [obj]
        while chain[-1].real_path in state.parents and len(chain) < MAX_OBJECTS:
            chain.append(state.parents[chain[-1].real_path])
        return chain

    def _lookup(
        self,
        state: _State,
        flavour: Libc,
        strategy: GlibcSearch | MuslSearch,
        interp: LoadedObject | None,
        chain: Sequence[LoadedObject],
        name: str,
    ) -> LibraryLookup:
        needer = chain[0]
        known = self._already_loaded(state, flavour, interp, name)
        if known is not None:
            source = SearchSource.INTERPRETER if known is interp else SearchSource.LOADED
            return LibraryLookup(name, needer.real_path, LookupStatus.FOUND, known, source)
        if flavour is Libc.MUSL and is_reserved(name):
            # dynlink.c: "Catch and block attempts to reload the implementation itself"
            return LibraryLookup(
                name, needer.real_path, LookupStatus.FOUND, interp, SearchSource.INTERPRETER
            )
        check_class = flavour is not Libc.MUSL  # musl maps the first file that opens

        def probe(path: str) -> tuple[CandidateVerdict, str | None] | None:
            return self._probe(path, chain[-1].info, check_class=check_class)

        wanted = strategy.expand_name(name, needer) if isinstance(strategy, GlibcSearch) else name
        if "/" in wanted:
            outcome = self._direct(wanted, probe)
        else:
            outcome = strategy.find(wanted, chain, probe)
        return self._record(state, needer, name, outcome)

    def _direct(self, name: str, probe: Probe) -> SearchOutcome:
        """A DT_NEEDED name with a slash is opened as written, no search."""
        out = SearchOutcome(LookupStatus.NOT_FOUND)
        path = name if name.startswith("/") else posixpath.join(self.cwd, name)  # open(2)
        result = probe(path)
        if result is not None:
            verdict, detail = result
            if verdict is CandidateVerdict.ACCEPTED:
                out.status = LookupStatus.FOUND
            else:
                out.status = LookupStatus.INVALID
                out.rejected.append(Candidate(path, verdict, detail))
            out.path, out.source = path, SearchSource.PATH
        return out

    def _already_loaded(
        self, state: _State, flavour: Libc, interp: LoadedObject | None, name: str
    ) -> LoadedObject | None:
        candidates = [*state.objects[1:], *([interp] if interp else [])]
        for obj in candidates:
            if flavour is Libc.MUSL:
                if name == (obj.searched_as or posixpath.basename(obj.path)):
                    return obj
            elif name in (obj.info.soname, obj.searched_as, obj.path):
                # dl-load.c _dl_map_object: l_name, the names asked for, DT_SONAME
                return obj
        if flavour is not Libc.MUSL and name == state.objects[0].info.soname:
            return state.objects[0]
        return None

    def _probe(
        self, path: str, exe: ElfInfo, *, check_class: bool
    ) -> tuple[CandidateVerdict, str | None] | None:
        found = self.reader.read(path)
        if found.kind is FileKind.MISSING:
            return None
        if found.kind is FileKind.MALFORMED_ELF:
            return CandidateVerdict.MALFORMED, found.error
        if found.info is None:
            return CandidateVerdict.NOT_ELF, found.kind.value
        info = found.info
        if check_class and info.elf_class is not exe.elf_class:
            return CandidateVerdict.WRONG_CLASS, info.elf_class.name
        if check_class and info.machine != exe.machine:
            return CandidateVerdict.WRONG_MACHINE, info.arch or f"e_machine {info.machine}"
        return CandidateVerdict.ACCEPTED, None

    def _record(
        self,
        state: _State,
        needer: LoadedObject,
        name: str,
        outcome: SearchOutcome,
    ) -> LibraryLookup:
        found: LoadedObject | None = None
        if outcome.status is LookupStatus.FOUND and outcome.path is not None:
            found = self._load(state, needer, name, outcome.path, outcome.source)
        return LibraryLookup(
            name=name,
            needed_by=needer.real_path,
            status=outcome.status,
            found=found,
            source=outcome.source,
            searched=tuple(outcome.searched),
            rejected=tuple(outcome.rejected),
            note=outcome.note,
        )

    def _load(
        self,
        state: _State,
        needer: LoadedObject,
        name: str,
        path: str,
        source: SearchSource | None,
    ) -> LoadedObject | None:
        obj = self.reader.read(path)
        if obj.info is None:
            return None
        for loaded in state.objects:  # the same file under another name (dev/ino check)
            if loaded.real_path == obj.real_path:
                return loaded
        new = LoadedObject(
            path=path,
            real_path=obj.real_path,
            info=obj.info,
            searched_as=name,
            source=source,
            depth=needer.depth + 1,
            needed_by=needer.real_path,
            hops=obj.resolution.hops,
            layer=obj.layer,
        )
        state.objects.append(new)
        state.parents[new.real_path] = needer
        return new
