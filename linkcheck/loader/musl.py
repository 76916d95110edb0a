"""musl's library search (ldso/dynlink.c ``load_library``), as data and small functions.

For a DT_NEEDED name without a slash, in order:

1. names musl implements itself (``libc.so*``, ``libpthread.*``, ``libm.*`` ...) are musl;
2. an object already loaded under that short name;
3. LD_LIBRARY_PATH (from the image config's Env);
4. the RPATH of the needing object, then of the object that needed *it*, up the chain
   (DT_RUNPATH simply replaces DT_RPATH in ``decode_dyn``; both are inherited);
5. ``<prefix>/etc/ld-musl-$ARCH.path`` (split on ``:`` and newlines), or when that file does
   not exist, ``/lib:/usr/local/lib:/usr/lib``.

The first file that opens wins: musl checks neither ELF class nor machine before mapping it,
and it has no symbol versioning and no cache.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.loader.types import (
    Candidate,
    CandidateVerdict,
    LookupStatus,
    SearchDir,
    SearchOutcome,
    SearchSource,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.loader.types import LoadedObject, Probe
    from linkcheck.model import FileSystem

__all__ = [
    "DEFAULT_SYS_PATH",
    "MuslSearch",
    "is_reserved",
    "musl_arch",
    "path_file",
    "split_musl_path",
]

DEFAULT_SYS_PATH = "/lib:/usr/local/lib:/usr/lib"

# dynlink.c: static const char reserved[] = "c.pthread.rt.m.dl.util.xnet.";  a name
# "lib" + one of these (dot included) is the implementation itself.
RESERVED = ("c.", "pthread.", "rt.", "m.", "dl.", "util.", "xnet.")

_LDSO_RE = re.compile(r"^ld-musl-(.+)\.so\.1$")


def is_reserved(name: str) -> bool:
    """True for names musl answers with itself (``libc.so``, ``libc.musl-x86_64.so.1``...)."""
    return name.startswith("lib") and name[3:].startswith(RESERVED)


def musl_arch(interp: str) -> str | None:
    """LDSO_ARCH from the interpreter name: ``/lib/ld-musl-x86_64.so.1`` -> ``x86_64``."""
    match = _LDSO_RE.match(posixpath.basename(interp))
    return match.group(1) if match else None


def path_file(interp: str, arch: str | None = None) -> str | None:
    """Where this musl reads its path file.

    dynlink.c takes the PT_INTERP name, drops its last two components and appends
    ``/etc/ld-musl-$ARCH.path``: ``/lib/ld-musl-x86_64.so.1`` -> ``/etc/ld-musl-x86_64.path``,
    ``/usr/local/musl/lib/ld-musl-x86_64.so.1`` -> ``/usr/local/musl/etc/...``. LDSO_ARCH is
    compiled in: pass ``arch`` when PT_INTERP is another name for musl (libc6-compat's
    ``/lib64/ld-linux-x86-64.so.2``).
    """
    arch = arch or musl_arch(interp)
    if arch is None:
        return None
    prefix = ""
    if interp.startswith("/"):
        prefix = posixpath.dirname(posixpath.dirname(interp)).rstrip("/")
    return f"{prefix}/etc/ld-musl-{arch}.path"


def split_musl_path(text: str) -> tuple[str, ...]:
    """dynlink.c path_open(): elements separated by ':' or newline; an empty one ends it."""
    out: list[str] = []
    for element in re.split("[:\n]", text.lstrip(":\n")):
        if not element:
            break
        out.append(element)
    return tuple(out)


def expand_origin(element: str, origin: str) -> str | None:
    """dynlink.c fixup_rpath(): only $ORIGIN / ${ORIGIN}; any other '$' drops the whole
    RPATH (it returns without setting p->rpath)."""
    out = element.replace("${ORIGIN}", origin)
    out = re.sub(r"\$ORIGIN", origin, out)
    return None if "$" in out else out


@dataclass(slots=True)
class MuslSearch:
    fs: FileSystem
    interp: str  # PT_INTERP as written (musl derives the path file's prefix from it)
    ld_library_path: str | None
    arch: str | None = None  # LDSO_ARCH, from the real file's name ld-musl-$ARCH.so.1
    _sys_path: tuple[tuple[str, ...], SearchSource] | None = None

    def origin(self, obj: LoadedObject) -> str:
        # fixup_rpath(): the main program (kernel_mapped) uses /proc/self/exe, libraries
        # the name they were opened under.
        path = obj.real_path if obj.depth == 0 else obj.path
        return posixpath.dirname(path) or "/"

    def sys_path(self) -> tuple[tuple[str, ...], SearchSource]:
        if self._sys_path is None:
            where = path_file(self.interp, self.arch)
            try:
                if where is None:
                    raise FileNotFoundError(self.interp)
                text = self.fs.read_bytes(where, limit=1 << 20).decode("utf-8", "replace")
                self._sys_path = (split_musl_path(text), SearchSource.PATH_FILE)
            except (FileNotFoundError, OSError):
                self._sys_path = (split_musl_path(DEFAULT_SYS_PATH), SearchSource.DEFAULT)
        return self._sys_path

    def rpath_dirs(self, chain: Sequence[LoadedObject]) -> list[SearchDir]:
        dirs: list[SearchDir] = []
        for obj in chain:
            # decode_dyn(): DT_RUNPATH overrides DT_RPATH; both are searched up the chain.
            elements = obj.info.runpath if obj.info.runpath is not None else obj.info.rpath
            if not elements:
                continue
            expanded = [expand_origin(e, self.origin(obj)) for e in elements]
            if any(e is None for e in expanded):
                continue
            source = SearchSource.RUNPATH if obj.info.runpath is not None else SearchSource.RPATH
            dirs.extend(SearchDir(e, source, obj.real_path) for e in expanded if e)
        return dirs

    def find(self, name: str, chain: Sequence[LoadedObject], probe: Probe) -> SearchOutcome:
        out = SearchOutcome(LookupStatus.NOT_FOUND)
        steps: list[SearchDir] = []
        if self.ld_library_path is not None:
            steps += [
                SearchDir(d, SearchSource.LD_LIBRARY_PATH)
                for d in split_musl_path(self.ld_library_path)
            ]
        steps += self.rpath_dirs(chain)
        sys_dirs, sys_source = self.sys_path()
        steps += [SearchDir(d, sys_source) for d in sys_dirs]
        for sd in steps:
            out.searched.append(sd)
            path = f"{sd.path.rstrip('/')}/{name}"
            result = probe(path)
            if result is None:
                continue
            verdict, detail = result
            if verdict in (CandidateVerdict.NOT_ELF, CandidateVerdict.MALFORMED):
                # map_library() fails on it and load_library() does not search on.
                out.rejected.append(Candidate(path, verdict, detail))
                out.status, out.path, out.source = LookupStatus.INVALID, path, sd.source
                return out
            out.status, out.path, out.source = LookupStatus.FOUND, path, sd.source
            return out
        return out
