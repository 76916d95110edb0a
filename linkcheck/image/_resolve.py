"""In-root path resolution shared by the merged image tree and :class:`DirFileSystem`.

One resolver works over a small ``lookup(canonical_path) -> FileEntry | None`` function, so
the image tree and a real directory follow symlinks exactly the same way. ``lookup`` is only
ever called with a canonical absolute path whose every parent was just seen to be a real
directory of the tree (never a symlink), so an implementation over a host directory can
``lstat`` it without following anything on the host.

Semantics follow path_resolution(7) applied inside the image root, as a container runtime
sees it after ``chroot``/``pivot_root``: absolute link targets restart at the image root,
``..`` at the root stays at the root, and the kernel's limit of 40 links per lookup
(``MAXSYMLINKS`` in linux/include/linux/namei.h) ends a loop with ELOOP, reported in
:attr:`Resolution.error` rather than raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.model import FileEntry, FileType, Resolution

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["MAX_SYMLINK_HOPS", "join_path", "resolve_path", "split_path"]

MAX_SYMLINK_HOPS = 40  # linux/include/linux/namei.h MAXSYMLINKS

ERR_LOOP = "symlink loop"
ERR_TOO_MANY = "too many levels of symbolic links"
ERR_NOT_DIR = "not a directory"


def split_path(path: str) -> list[str]:
    """Components of ``path`` without empty and ``.`` parts (``..`` is kept)."""
    return [part for part in path.split("/") if part not in ("", ".")]


def join_path(parts: list[str]) -> str:
    return "/" + "/".join(parts)


def resolve_path(
    path: str,
    lookup: Callable[[str], FileEntry | None],
    *,
    follow_final: bool = True,
) -> Resolution:
    """Resolve ``path`` inside the root that ``lookup`` describes (see module docstring)."""
    todo = split_path(path)
    todo.reverse()  # a stack: the next component is at the end
    real: list[str] = []
    here = lookup("/")
    hops: list[str] = []
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while todo:
        name = todo.pop()
        if name == "..":
            if real:  # ".." at the root stays at the root
                real.pop()
                here = lookup(join_path(real))
            continue
        if here is None or here.type is not FileType.DIRECTORY:
            rest = [name, *reversed(todo)]
            return Resolution(path, join_path(real + rest), None, tuple(hops), ERR_NOT_DIR)
        candidate = join_path([*real, name])
        entry = lookup(candidate)
        if entry is None:
            rest = [name, *reversed(todo)]
            return Resolution(path, join_path(real + rest), None, tuple(hops))
        if entry.type is FileType.SYMLINK and (todo or follow_final):
            target = entry.linkname or ""
            if not target:  # an empty target is ENOENT for the kernel
                return Resolution(path, candidate, None, tuple(hops))
            state = (candidate, tuple(todo))
            if state in seen or len(hops) >= MAX_SYMLINK_HOPS:
                error = ERR_LOOP if state in seen else ERR_TOO_MANY
                return Resolution(path, candidate, None, tuple(hops), error)
            seen.add(state)
            hops.append(f"{candidate} -> {target}")
            if target.startswith("/"):
                real = []  # absolute targets restart at the image root, never the host's
                here = lookup("/")
            todo.extend(reversed(split_path(target)))
            continue
        real.append(name)
        here = entry
    return Resolution(path, join_path(real), here, tuple(hops))
