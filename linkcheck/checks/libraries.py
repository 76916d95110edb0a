"""Rules about what the loader does after it starts: libraries, versions, symbols."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from linkcheck.checks import register
from linkcheck.checks.hints import GLIBC_BASES, libc_mismatch_hint, wants_libc
from linkcheck.loader.types import LookupStatus
from linkcheck.model import Finding, Libc, Severity

if TYPE_CHECKING:
    from collections.abc import Iterator

    from linkcheck.checks.facts import Facts, Target
    from linkcheck.loader.resolver import Closure
    from linkcheck.loader.types import LibraryLookup, LoadedObject
    from linkcheck.model import DetailValue

_MISSING = (LookupStatus.NOT_FOUND, LookupStatus.WRONG_CLASS_ONLY, LookupStatus.INVALID)
_MAX_LISTED = 8  # symbols named in one message line


def _list(names: tuple[str, ...]) -> str:
    return ", ".join(names[:_MAX_LISTED]) + (", ..." if len(names) > _MAX_LISTED else "")


def _loader_runs(closure: Closure) -> bool:
    # With PT_INTERP absent the kernel fails first (missing-interpreter); the loader's
    # later errors would only repeat it.
    return closure.interpreter is None or closure.interpreter_object is not None


def _closures(facts: Facts) -> Iterator[tuple[Target, Closure]]:
    for target in facts.targets:
        info = target.file.info
        if info is not None and info.arch not in (None, facts.platform.architecture):
            continue  # the kernel refuses it before any loader runs (arch-mismatch)
        if target.closure is not None and _loader_runs(target.closure):
            yield target, target.closure


def _lookup_detail(
    facts: Facts, target: Target, lookup: LibraryLookup
) -> tuple[tuple[str, DetailValue], ...]:
    closure = target.closure
    detail: list[tuple[str, DetailValue]] = [
        ("library", lookup.name),
        ("needed_by", lookup.needed_by),
        ("loader", closure.flavour.value if closure else None),
        ("searched", tuple(str(d) for d in lookup.searched)),
    ]
    if lookup.rejected:
        detail.append(("rejected", tuple(str(c) for c in lookup.rejected)))
    if lookup.note:
        detail.append(("note", lookup.note))
    needer = (
        next((o for o in closure.objects if o.real_path == lookup.needed_by), None)
        if closure
        else None
    )
    layer = facts.layer_name(needer.layer) if needer else None
    if layer:
        detail.append(("layer", layer))
    return (*detail, *target.scope_detail())


def _missing_message(lookup: LibraryLookup) -> str:
    who = f"{lookup.name} (needed by {lookup.needed_by})"
    if lookup.status is LookupStatus.WRONG_CLASS_ONLY:
        others = ", ".join(str(c) for c in lookup.rejected)
        return f"{who}: only files for another ELF class or machine exist, and the loader skips them: {others}"  # noqa: E501
    if lookup.status is LookupStatus.INVALID:
        bad = lookup.rejected[-1] if lookup.rejected else None
        where = f"{bad.path} is not a loadable ELF file ({bad.detail})" if bad else "invalid file"
        return (
            f"{who}: {where}: the loader stops there ('invalid ELF header') instead of searching on"
        )
    why = f" ({lookup.note})" if lookup.note else ""
    return (
        f"{who} is not found{why}: error while loading shared libraries: {lookup.name}: "
        "cannot open shared object file"
    )


def _missing_hint(facts: Facts, target: Target, lookup: LibraryLookup) -> str:
    info = target.file.info
    if info is not None and lookup.needed_by == target.file.real_path:
        wanted = wants_libc(info)
        if info.go is not None and info.go.cgo_enabled:
            return libc_mismatch_hint(info, facts.base.libc)
        if wanted is not facts.base.libc and facts.base.libc is not Libc.UNKNOWN:
            return libc_mismatch_hint(info, facts.base.libc)
    if lookup.status is LookupStatus.WRONG_CLASS_ONLY:
        return f"install the {facts.platform.architecture} build of {lookup.name}"
    return (
        f"install the package that provides {lookup.name} in the image, or copy it into a "
        "directory the loader searches (or set DT_RUNPATH / LD_LIBRARY_PATH to it)"
    )


@register("missing-library", Severity.ERROR, "a DT_NEEDED library the loader cannot find")
def missing_library(facts: Facts) -> Iterator[Finding]:
    for target, closure in _closures(facts):
        for lookup in closure.lookups:
            if lookup.status not in _MISSING:
                continue
            yield Finding(
                "missing-library",
                target.severity(Severity.ERROR),
                lookup.needed_by,
                _missing_message(lookup),
                _missing_hint(facts, target, lookup),
                _lookup_detail(facts, target, lookup),
            )


@register("stale-ld-cache", Severity.ERROR, "a library only ldconfig would have found")
def stale_ld_cache(facts: Facts) -> Iterator[Finding]:
    for target, closure in _closures(facts):
        for lookup in closure.lookups:
            if lookup.status is not LookupStatus.STALE_CACHE:
                continue
            yield Finding(
                "stale-ld-cache",
                target.severity(Severity.ERROR),
                lookup.needed_by,
                f"{lookup.name} (needed by {lookup.needed_by}) is in {lookup.note}, listed in "
                "/etc/ld.so.conf, but not in /etc/ld.so.cache: stale ld.so.cache — run ldconfig",
                "add RUN ldconfig after installing the library (the loader never reads "
                "/etc/ld.so.conf, only the cache ldconfig writes from it)",
                _lookup_detail(facts, target, lookup),
            )


_VERSION_RE = re.compile(r"^(.*?)(\d+(?:\.\d+)*)$")


def _split_version(version: str) -> tuple[str, Version] | None:
    match = _VERSION_RE.match(version)
    if match is None:
        return None
    try:
        return match.group(1), Version(match.group(2))
    except InvalidVersion:
        return None


def version_key(version: str) -> tuple[str, Version]:
    """``GLIBC_2.34`` -> ("GLIBC_", Version("2.34")), so 2.4 < 2.34 as ld.so users expect."""
    return _split_version(version) or (version, Version("0"))


def _highest(versions: tuple[str, ...] | list[str], prefix: str) -> str | None:
    same = [v for v in versions if (split := _split_version(v)) and split[0] == prefix]
    return max(same, key=version_key) if same else None


def _version_findings(
    facts: Facts, target: Target, closure: Closure, obj: LoadedObject
) -> Iterator[Finding]:
    by_file: dict[str, list[str]] = {}
    symbols: dict[str, tuple[str, ...]] = {}
    for need in obj.info.version_needs:
        provider = closure.provider(obj.real_path, need.file)
        # dl-version.c match_symbol(): a weak need, or a provider without version
        # definitions at all, is not an error.
        if provider is None or need.weak or not provider.info.version_defs:
            continue
        if need.version not in provider.info.version_defs:
            by_file.setdefault(need.file, []).append(need.version)
            symbols[need.version] = need.symbols or ()
    for file, missing in by_file.items():
        provider = closure.provider(obj.real_path, file)
        assert provider is not None
        top = max(missing, key=version_key)
        have = _highest(provider.info.version_defs, version_key(top)[0])
        need_syms = symbols.get(top, ())
        listed = ", ".join(need_syms[:_MAX_LISTED]) + (
            ", ..." if len(need_syms) > _MAX_LISTED else ""
        )
        yield Finding(
            "symbol-version",
            target.severity(Severity.ERROR),
            obj.real_path,
            f"{provider.path}: version `{top}' not found (required by {obj.real_path})"
            + (f"; it provides up to {have}" if have else "")
            + (f"; needed by {listed}" if listed else ""),
            _version_hint(top, have),
            (
                ("library", provider.real_path),
                ("needed_versions", tuple(sorted(missing, key=version_key))),
                ("highest_available", have),
                ("symbols", need_syms),
                ("layer", facts.layer_name(provider.layer)),
                *target.scope_detail(),
            ),
        )


def _version_hint(need: str, have: str | None) -> str:
    if need.startswith("GLIBC_") and have:
        n, h = need.removeprefix("GLIBC_"), have.removeprefix("GLIBC_")
        return (
            f"the program was built against glibc >= {n} but the base has glibc {h}: build it "
            f"on a distro release no newer than the base's, or use a base with glibc >= {n}"
        )
    return f"use a build of the library that defines {need}, or build against the image's copy"


@register("symbol-version", Severity.ERROR, "a needed symbol version the library does not define")
def symbol_version(facts: Facts) -> Iterator[Finding]:
    for target, closure in _closures(facts):
        if closure.flavour is not Libc.GLIBC:  # musl has no symbol versioning
            continue
        for obj in closure.objects:
            yield from _version_findings(facts, target, closure, obj)


@register("undefined-symbol", Severity.ERROR, "musl: a symbol no loaded object defines")
def undefined_symbol(facts: Facts) -> Iterator[Finding]:
    """musl binds every symbol at start-up (ldso/dynlink.c do_relocs, no lazy binding for
    DT_NEEDED objects) and has no versions to check: a name no loaded object exports is
    "Error relocating ...: symbol not found" and exit 127. An error, not a warning.
    glibc programs are covered by symbol-version instead (names and versions go together)."""
    for target, closure in _closures(facts):
        if closure.flavour is not Libc.MUSL or closure.interpreter_object is None:
            continue
        if not all(lookup.ok for lookup in closure.lookups):
            continue  # missing-library explains it first; the names would only repeat it
        objects = [*closure.objects, closure.interpreter_object]
        exported: set[str] = set()
        for obj in objects:
            if obj.info.defined_symbols is None:
                return  # unknown exports: cannot decide, say nothing
            exported |= obj.info.defined_symbols
        for obj in closure.objects:
            missing = tuple(s for s in obj.info.undefined_symbols or () if s not in exported)
            if missing:
                yield _undefined(facts, target, obj, missing)


def _undefined(
    facts: Facts, target: Target, obj: LoadedObject, missing: tuple[str, ...]
) -> Finding:
    listed = _list(missing)
    exe = target.file.info
    if exe is not None and wants_libc(exe) is Libc.GLIBC:
        hint = (
            "this is a glibc program on a musl base; gcompat/libc6-compat only provide the "
            f"names of files: build it against musl, or use a glibc base ({GLIBC_BASES})"
        )
    else:
        hint = "install the library that defines them, or rebuild against the image's libraries"
    return Finding(
        "undefined-symbol",
        target.severity(Severity.ERROR),
        obj.real_path,
        f"{obj.real_path} needs {len(missing)} symbol(s) no loaded object defines ({listed}): "
        f"musl stops with 'Error relocating {obj.real_path}: {missing[0]}: symbol not found'",
        hint,
        (("symbols", missing), *target.scope_detail()),
    )
