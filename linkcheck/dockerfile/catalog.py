"""The base-image catalog: image references -> libc flavour, version, shell, C compiler.

The knowledge lives in ``linkcheck/data/bases.json``; this module only loads and matches it.
A user catalog with the same shape is searched first, so it can add or override entries.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from linkcheck.errors import DockerfileError

if TYPE_CHECKING:
    import os

__all__ = [
    "BaseEntry",
    "BaseImage",
    "Builder",
    "Catalog",
    "LibcFlavour",
    "load_catalog",
    "normalize_ref",
]


class LibcFlavour(enum.Enum):
    """The C library a base provides (``NONE``: no loader at all) or a binary needs.

    ``linkcheck.model.Libc`` has no uClibc member; busybox:uclibc needs one here.
    """

    NONE = "none"
    GLIBC = "glibc"
    MUSL = "musl"
    UCLIBC = "uclibc"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class BaseImage:
    """What the catalog knows about one base image reference."""

    name: str  # as written in FROM (variables expanded): "golang:1.22-bookworm"
    ref: str  # normalised: "docker.io/library/Golang" -> "golang:latest"
    libc: LibcFlavour
    libc_version: str | None  # "2.36"; None when not pinned
    shell: bool | None
    release: str | None
    cc: bool | None  # a C compiler on PATH (Go's cgo default), None if unknown
    env: tuple[tuple[str, str], ...]

    @property
    def known(self) -> bool:
        return self.libc is not LibcFlavour.UNKNOWN


@dataclass(frozen=True, slots=True)
class BaseEntry:
    patterns: tuple[str, ...]
    libc: LibcFlavour
    libc_version: str | None
    shell: bool | None
    release: str | None


@dataclass(frozen=True, slots=True)
class Builder:
    patterns: tuple[str, ...]
    cc: bool | None
    env: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    bases: tuple[BaseEntry, ...]
    builders: tuple[Builder, ...]

    def lookup(self, reference: str) -> BaseImage:
        """Classify ``reference``; an unmatched one is ``LibcFlavour.UNKNOWN``, never an error."""
        ref = normalize_ref(reference)
        entry = next((e for e in self.bases if _matches(ref, e.patterns)), None)
        builder = next((b for b in self.builders if _matches(ref, b.patterns)), None)
        return BaseImage(
            name=reference.strip(),
            ref=ref,
            libc=entry.libc if entry else LibcFlavour.UNKNOWN,
            libc_version=entry.libc_version if entry else None,
            shell=entry.shell if entry else None,
            release=entry.release if entry else None,
            cc=builder.cc if builder else None,
            env=builder.env if builder else (),
        )

    def extended(self, other: Catalog) -> Catalog:
        """``other``'s entries searched before this catalog's."""
        return Catalog(other.bases + self.bases, other.builders + self.builders)


def normalize_ref(reference: str) -> str:
    """``docker.io/library/Alpine:3.19@sha256:..`` -> ``alpine:3.19``; no tag -> ``:latest``.

    Registry host defaults follow distribution/reference (``docker.io``, ``library/``).
    """
    ref = reference.strip().lower().split("@", 1)[0]
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            if ref.startswith("library/"):
                ref = ref[len("library/") :]
    if ref == "scratch":
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def _matches(ref: str, patterns: tuple[str, ...]) -> bool:
    repo = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    for pattern in patterns:
        with_tag = ":" in pattern.rsplit("/", 1)[-1]
        if fnmatchcase(ref if with_tag else repo, pattern):
            return True
    return False


def load_catalog(extra: str | os.PathLike[str] | Catalog | None = None) -> Catalog:
    """The packaged catalog, with ``extra`` (a JSON file or a Catalog) searched first."""
    text = resources.files("linkcheck").joinpath("data/bases.json").read_text("utf-8")
    catalog = _from_json(json.loads(text), "linkcheck/data/bases.json")
    if extra is None:
        return catalog
    if isinstance(extra, Catalog):
        return catalog.extended(extra)
    path = Path(extra)
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as e:
        raise DockerfileError(f"catalog {path}: cannot read: {e}") from e
    return catalog.extended(_from_json(data, str(path)))


def _from_json(data: Any, name: str) -> Catalog:
    try:
        bases = tuple(_entry(item) for item in data.get("bases", ()))
        builders = tuple(_builder(item) for item in data.get("builders", ()))
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise DockerfileError(f"catalog {name}: malformed entry: {e!r}") from e
    return Catalog(bases, builders)


def _patterns(item: dict[str, Any]) -> tuple[str, ...]:
    match = item["match"]
    return (match.lower(),) if isinstance(match, str) else tuple(str(m).lower() for m in match)


def _entry(item: dict[str, Any]) -> BaseEntry:
    version = item.get("libc_version")
    return BaseEntry(
        patterns=_patterns(item),
        libc=LibcFlavour(item["libc"]),
        libc_version=str(version) if version is not None else None,
        shell=item.get("shell"),
        release=item.get("release"),
    )


def _builder(item: dict[str, Any]) -> Builder:
    env = item.get("env", {})
    return Builder(_patterns(item), item.get("cc"), tuple((str(k), str(v)) for k, v in env.items()))
