"""glibc's library search (elf/dl-load.c ``_dl_map_object``), as data and small functions.

For a DT_NEEDED name without a slash, in order (ld.so(8), dl-load.c):

1. DT_RPATH of the needing object, then of the object that loaded it, up to the executable
   -- skipped entirely when the needing object has DT_RUNPATH;
2. LD_LIBRARY_PATH -- from the image config's Env, never the host's;
3. DT_RUNPATH of the needing object only;
4. /etc/ld.so.cache, read from the image (entries filtered by the ABI flags);
5. the default directories compiled into the image's ld.so (skipped with DF_1_NODEFLIB,
   which also refuses cache entries under them).

In every directory the glibc-hwcaps subdirectories (glibc >= 2.33) are tried first. A file of
the wrong ELF class or machine is skipped and the search goes on (``open_verify`` sets
``found_other_class``); a file that is not ELF at all stops the search ("invalid ELF header").
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from linkcheck.loader.types import (
    Candidate,
    CandidateVerdict,
    LookupStatus,
    Probe,
    SearchDir,
    SearchOutcome,
    SearchSource,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.elf.info import ElfClass
    from linkcheck.loader.types import LoadedObject
    from linkcheck.model import FileSystem

__all__ = [
    "ARCHES",
    "GlibcArch",
    "GlibcLayout",
    "GlibcSearch",
    "LdCacheLookup",
    "detect_layout",
    "expand_dst",
    "parse_ld_so_conf",
    "split_search_path",
]

LD_SO_CACHE = "/etc/ld.so.cache"
LD_SO_CONF = "/etc/ld.so.conf"


@dataclass(frozen=True, slots=True)
class GlibcArch:
    """Per-architecture constants of a glibc build (sysdeps/*/dl-procinfo, Debian multiarch)."""

    triplet: str  # Debian multiarch directory name
    platform: str  # what $PLATFORM expands to (the kernel's AT_PLATFORM)
    hwcaps: tuple[str, ...]  # glibc-hwcaps subdirectories, best first (elf/dl-hwcaps.c)
    lib64: bool  # upstream slibdir is /lib64 (Fedora/RHEL layout)


# Keys are OCI architecture names (ElfInfo.arch). hwcaps: sysdeps/x86/dl-hwcaps-subdirs.c,
# sysdeps/powerpc/powerpc64/le/dl-hwcaps-subdirs.c, sysdeps/s390/s390-64/dl-hwcaps-subdirs.c.
ARCHES: dict[str, GlibcArch] = {
    "amd64": GlibcArch("x86_64-linux-gnu", "x86_64", ("x86-64-v4", "x86-64-v3", "x86-64-v2"), True),
    "arm64": GlibcArch("aarch64-linux-gnu", "aarch64", (), True),
    "386": GlibcArch("i386-linux-gnu", "i686", (), False),
    "arm": GlibcArch("arm-linux-gnueabihf", "v7l", (), False),
    "ppc64le": GlibcArch("powerpc64le-linux-gnu", "power8", ("power10", "power9"), True),
    "s390x": GlibcArch("s390x-linux-gnu", "z900", ("z16", "z15", "z14", "z13"), True),
    "riscv64": GlibcArch("riscv64-linux-gnu", "riscv64", (), True),
}


@dataclass(frozen=True, slots=True)
class GlibcLayout:
    """What one ld.so build searches by default, and how linkcheck knows it."""

    system_dirs: tuple[str, ...]  # without trailing slash
    lib: str  # $LIB
    platform: str  # $PLATFORM
    hwcaps: tuple[str, ...]
    how: str  # "read from ld.so", "multiarch directory present", "upstream default"


# ld.so keeps its compiled-in SYSTEM_DIRS as consecutive NUL-terminated strings that all end
# in "/" (elf/dl-load.c system_dirs[]): "/lib/x86_64-linux-gnu/\0/usr/lib/x86_64-linux-gnu/\0..."
_SYSTEM_DIRS_RE = re.compile(rb"\x00((?:/(?:[A-Za-z0-9_.+-]+/)+\x00){2,8})")


def _dirs_from_ld_so(ld_so: bytes) -> tuple[str, ...] | None:
    for match in _SYSTEM_DIRS_RE.finditer(ld_so):
        dirs = tuple(d.decode().rstrip("/") for d in match.group(1).split(b"\x00") if d)
        if all("lib" in d for d in dirs):
            return dirs
    return None


def _lib_from_dirs(dirs: tuple[str, ...]) -> str:
    # $LIB is DL_DST_LIB, the configure-time slibdir without its leading "/": the first
    # system directory is slibdir in every glibc build linkcheck knows of.
    return dirs[0].lstrip("/")


def detect_layout(ld_so: bytes | None, arch: str | None, fs: FileSystem) -> GlibcLayout:
    """The default search directories of the image's ld.so.

    Best: read them out of the ld.so binary itself (they are compiled in). Otherwise decide
    from the image: a Debian multiarch directory means the Debian order, else the upstream
    ``/lib64:/usr/lib64`` (or ``/lib:/usr/lib`` for 32-bit arches).
    """
    data = ARCHES.get(arch or "", GlibcArch("", arch or "", (), True))
    hwcaps = data.hwcaps if ld_so is None or b"glibc-hwcaps" in ld_so else ()
    dirs = _dirs_from_ld_so(ld_so) if ld_so else None
    if dirs:
        return GlibcLayout(dirs, _lib_from_dirs(dirs), data.platform, hwcaps, "read from ld.so")
    if data.triplet and any(_is_dir(fs, f"{p}/{data.triplet}") for p in ("/lib", "/usr/lib")):
        dirs = (f"/lib/{data.triplet}", f"/usr/lib/{data.triplet}", "/lib", "/usr/lib")
        how = "multiarch directory present"
    elif data.lib64:
        dirs, how = ("/lib64", "/usr/lib64"), "upstream default"
    else:
        dirs, how = ("/lib", "/usr/lib"), "upstream default"
    return GlibcLayout(dirs, _lib_from_dirs(dirs), data.platform, hwcaps, how)


def _is_dir(fs: FileSystem, path: str) -> bool:
    entry = fs.resolve(path).entry
    return entry is not None and entry.type.value == "dir"


# Dynamic string tokens (elf/dl-load.c is_dst/_dl_dst_substitute): "$NAME" must not be
# followed by a name character; "${NAME}" is the braced form.
_DST_RE = re.compile(r"\$(?:\{(ORIGIN|LIB|PLATFORM)\}|(ORIGIN|LIB|PLATFORM)(?![A-Za-z0-9_]))")


def expand_dst(element: str, *, origin: str | None, layout: GlibcLayout) -> str | None:
    """``element`` with $ORIGIN/$LIB/$PLATFORM replaced; None when $ORIGIN is unknown
    (glibc drops such an element). Unknown ``$X`` stays literal, as in glibc."""
    values = {"ORIGIN": origin, "LIB": layout.lib, "PLATFORM": layout.platform}
    unknown = False

    def sub(match: re.Match[str]) -> str:
        nonlocal unknown
        value = values[match.group(1) or match.group(2)]
        if value is None:
            unknown = True
            return ""
        return value

    out = _DST_RE.sub(sub, element)
    return None if unknown else out


def split_search_path(
    elements: Sequence[str], *, origin: str | None, layout: GlibcLayout, cwd: str
) -> tuple[str, ...]:
    """A path list as fillin_rpath() builds it: DSTs expanded, an empty element is the
    current directory, relative ones are relative to it, trailing slashes and duplicates go."""
    out: list[str] = []
    for raw in elements:
        expanded = expand_dst(raw, origin=origin, layout=layout)
        if expanded is None:
            continue
        path = expanded
        if not path.startswith("/"):
            path = posixpath.join(cwd or "/", path)  # "" is the current directory
        path = re.sub("/+", "/", path).rstrip("/") or "/"
        if path not in out:
            out.append(path)
    return tuple(out)


def parse_ld_so_conf(fs: FileSystem, path: str = LD_SO_CONF, *, depth: int = 0) -> tuple[str, ...]:
    """Directories listed by /etc/ld.so.conf and its includes (ldconfig.c parse_conf).

    Only ldconfig reads this file; the loader never does. linkcheck reads it to explain a
    library that ldconfig *would* have put in the cache.
    """
    if depth > 8:  # an include loop
        return ()
    try:
        text = fs.read_bytes(path, limit=1 << 20).decode("utf-8", "replace")
    except (FileNotFoundError, OSError):
        return ()
    dirs: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("hwcap "):
            continue
        if line.startswith("include") and line[7:8] in (" ", "\t"):
            for pattern in line[8:].split():
                for inc in _glob(fs, posixpath.join(posixpath.dirname(path), pattern)):
                    dirs.extend(parse_ld_so_conf(fs, inc, depth=depth + 1))
            continue
        dirs.append(line.split("=", 1)[0].rstrip("/") or "/")
    return tuple(dict.fromkeys(dirs))


def _glob(fs: FileSystem, pattern: str) -> list[str]:
    directory, name = posixpath.split(pattern)
    return [posixpath.join(directory, n) for n in fs.listdir(directory) if fnmatch.fnmatch(n, name)]


class LdCacheLookup(Protocol):
    """The part of ``linkcheck.loader.ldcache.LdCache`` the search needs."""

    def lookup(self, soname: str, elf_class: ElfClass, machine: int) -> str | None: ...


@dataclass(slots=True)
class GlibcSearch:
    """The search for one process image: layout, env and cache are fixed, caches per instance."""

    fs: FileSystem
    layout: GlibcLayout
    ld_library_path: str | None  # from the config Env
    cache: LdCacheLookup | None
    cwd: str = "/"
    _conf_dirs: tuple[str, ...] | None = None

    def expand_name(self, name: str, needer: LoadedObject) -> str:
        """A DT_NEEDED name with DSTs expands like a path (dl-load.c _dl_map_object)."""
        if "$" not in name:
            return name
        return expand_dst(name, origin=self.origin(needer), layout=self.layout) or name

    def origin(self, obj: LoadedObject) -> str:
        # The executable's origin comes from /proc/self/exe (fully resolved); a library's
        # from the name it was opened under (dl-object.c _dl_new_object, l_origin).
        path = obj.real_path if obj.depth == 0 else obj.path
        return posixpath.dirname(path) or "/"

    def find(
        self,
        name: str,
        chain: Sequence[LoadedObject],
        probe: Probe,
    ) -> SearchOutcome:
        """Search ``name`` for ``chain[0]`` (chain = needing object, its loader, ..., exe)."""
        out = SearchOutcome(LookupStatus.NOT_FOUND)
        needer, exe = chain[0], chain[-1]
        for source, dirs in self._dirs_before_cache(chain):
            if self._try_dirs(name, dirs, source, probe, out):
                return out
        if self._try_cache(name, needer, exe, probe, out):
            return out
        if not needer.info.nodeflib:
            dirs = [SearchDir(d, SearchSource.DEFAULT) for d in self.layout.system_dirs]
            if self._try_dirs(name, dirs, SearchSource.DEFAULT, probe, out):
                return out
        self._explain_miss(name, needer, probe, out)
        return out

    def _dirs_before_cache(
        self, chain: Sequence[LoadedObject]
    ) -> list[tuple[SearchSource, list[SearchDir]]]:
        needer = chain[0]
        steps: list[tuple[SearchSource, list[SearchDir]]] = []
        if needer.info.runpath is None:  # DT_RUNPATH disables the whole DT_RPATH chain
            # _dl_init_paths(): the executable's DT_RPATH is ignored when it also has
            # DT_RUNPATH (old binutils wrote both with --enable-new-dtags); cache_rpath()
            # applies no such rule to the libraries of the chain.
            rpath = [
                SearchDir(d, SearchSource.RPATH, obj.real_path)
                for obj in chain
                if not (obj.depth == 0 and obj.info.runpath is not None)
                for d in self._expand(obj.info.rpath or (), obj)
            ]
            steps.append((SearchSource.RPATH, rpath))
        if self.ld_library_path is not None:
            # elf/dl-load.c _dl_init_paths: LD_LIBRARY_PATH splits on ":" and ";", and its
            # DSTs expand for the main program ($ORIGIN = the executable's directory).
            elements = re.split("[:;]", self.ld_library_path)
            dirs = self._expand(elements, chain[-1])
            steps.append(
                (
                    SearchSource.LD_LIBRARY_PATH,
                    [SearchDir(d, SearchSource.LD_LIBRARY_PATH) for d in dirs],
                )
            )
        if needer.info.runpath is not None:
            dirs = self._expand(needer.info.runpath, needer)
            steps.append(
                (
                    SearchSource.RUNPATH,
                    [SearchDir(d, SearchSource.RUNPATH, needer.real_path) for d in dirs],
                )
            )
        return steps

    def _expand(self, elements: Sequence[str], obj: LoadedObject) -> tuple[str, ...]:
        return split_search_path(
            elements, origin=self.origin(obj), layout=self.layout, cwd=self.cwd
        )

    def _try_dirs(
        self,
        name: str,
        dirs: Sequence[SearchDir],
        source: SearchSource,
        probe: Probe,
        out: SearchOutcome,
    ) -> bool:
        """open_path(): each directory, its glibc-hwcaps subdirectories first."""
        for sd in dirs:
            out.searched.append(sd)
            subdirs = [f"{sd.path}/glibc-hwcaps/{h}" for h in self.layout.hwcaps]
            for directory in [*subdirs, sd.path]:
                path = f"{directory.rstrip('/')}/{name}"
                if self._take(path, source, probe, out):
                    return True
        return False

    def _take(
        self,
        path: str,
        source: SearchSource,
        probe: Probe,
        out: SearchOutcome,
    ) -> bool:
        """True when the search ends at ``path`` (found, or a fatal non-ELF candidate)."""
        result = probe(path)
        if result is None:
            return False
        verdict, detail = result
        out.rejected.append(Candidate(path, verdict, detail))
        if verdict is CandidateVerdict.ACCEPTED:
            out.rejected.pop()
            out.status, out.path, out.source = LookupStatus.FOUND, path, source
            return True
        if verdict in (CandidateVerdict.NOT_ELF, CandidateVerdict.MALFORMED):
            # open_verify() "goto lose": not a class mismatch, so the load fails right here.
            out.status, out.path, out.source = LookupStatus.INVALID, path, source
            return True
        return False

    def _try_cache(
        self,
        name: str,
        needer: LoadedObject,
        exe: LoadedObject,
        probe: Probe,
        out: SearchOutcome,
    ) -> bool:
        if self.cache is None:
            return False
        out.searched.append(SearchDir(LD_SO_CACHE, SearchSource.LD_CACHE))
        cached = self.cache.lookup(name, exe.info.elf_class, exe.info.machine)
        if cached is None:
            return False
        if needer.info.nodeflib and any(
            cached.startswith(d.rstrip("/") + "/") for d in self.layout.system_dirs
        ):
            return False  # dl-load.c: NODEFLIB refuses cache entries in the system dirs too
        return self._take(cached, SearchSource.LD_CACHE, probe, out)

    def _explain_miss(
        self, name: str, needer: LoadedObject, probe: Probe, out: SearchOutcome
    ) -> None:
        if out.rejected:
            out.status = LookupStatus.WRONG_CLASS_ONLY
            return
        if needer.info.nodeflib:
            out.note = "DF_1_NODEFLIB: the default directories and their cache entries are skipped"
            return
        if self.cache is not None and self.cache.lookup(
            name, needer.info.elf_class, needer.info.machine
        ):
            return  # the cache knows it (the file is gone): not a stale cache
        if self._conf_dirs is None:
            self._conf_dirs = parse_ld_so_conf(self.fs)
        for directory in self._conf_dirs:
            result = probe(f"{directory}/{name}")
            if result is not None and result[0] is CandidateVerdict.ACCEPTED:
                out.status = LookupStatus.STALE_CACHE
                out.note = directory
                return
