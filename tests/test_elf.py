"""parse_elf against real binaries: exact values for the fixtures, and binutils' readelf as the
oracle for every fixture and a sample of the host's own ELF files."""

from __future__ import annotations

import io
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from linkcheck.elf import ElfClass, Linkage, is_elf, parse_elf
from tests.support.binaries import RECIPES

if TYPE_CHECKING:
    from linkcheck.elf import ElfInfo
    from tests.support.binaries import Binaries


@dataclass(frozen=True)
class ReadelfView:
    interp: str | None
    has_dynamic: bool
    needed: tuple[str, ...]
    soname: str | None
    rpath: str | None
    runpath: str | None
    flags_1: frozenset[str]
    version_needs: tuple[tuple[str, str, bool], ...]  # (file, version, weak)
    need_index: dict[int, tuple[str, str]]  # .gnu.version index -> (file, version)
    version_defs: tuple[str, ...]
    undefined: tuple[str, ...]  # UND, not WEAK
    defined: frozenset[str]  # defined, not LOCAL
    undefined_by_version: dict[tuple[str, str], tuple[str, ...]]


def readelf(path: Path, *options: str) -> str:
    done = subprocess.run(
        ["readelf", "-W", *options, str(path)], capture_output=True, text=True, check=True
    )
    return done.stdout


def _one(pattern: str, text: str) -> str | None:
    found = re.findall(pattern, text)
    return found[-1] if found else None


_SYM = re.compile(
    r"^\s*\d+:\s+[0-9a-f]+\s+\S+\s+\S+\s+(?P<bind>\S+)\s+\S+\s+(?P<ndx>\S+)\s*(?P<name>.*)$"
)


def _versions(text: str) -> tuple[list[tuple[str, str, bool]], dict[int, tuple[str, str]]]:
    needs: list[tuple[str, str, bool]] = []
    index: dict[int, tuple[str, str]] = {}
    section = text.split("Version needs section", 1)
    if len(section) < 2:
        return needs, index
    current = ""
    for line in section[1].splitlines():
        if m := re.search(r"File: (\S+)\s+Cnt:", line):
            current = m.group(1)
        elif m := re.search(r"Name: (\S+)\s+Flags: (.*?)\s+Version: (\d+)", line):
            needs.append((current, m.group(1), "WEAK" in m.group(2)))
            index[int(m.group(3))] = (current, m.group(1))
        elif line.startswith("Version ") and "section" in line:
            break
    return needs, index


def _defs(text: str) -> tuple[str, ...]:
    section = text.split("Version definition section", 1)
    if len(section) < 2:
        return ()
    part = section[1].split("\nVersion ", 1)[0]
    return tuple(re.findall(r"Rev: \d+\s+Flags: .*?Cnt: \d+\s+Name: (\S+)", part))


def _symbols(
    text: str, index: dict[int, tuple[str, str]]
) -> tuple[tuple[str, ...], frozenset[str], dict[tuple[str, str], tuple[str, ...]]]:
    undefined: list[str] = []
    defined: set[str] = set()
    by_version: dict[tuple[str, str], list[str]] = {}
    for line in text.splitlines():
        m = _SYM.match(line)
        if not m or not m.group("name"):
            continue
        full = m.group("name")
        name = full.split("@", 1)[0].split(" ", 1)[0]
        if m.group("ndx") == "UND":
            if m.group("bind") != "WEAK":
                undefined.append(name)
            if v := re.search(r"\((\d+)\)$", full):
                key = index.get(int(v.group(1)))
                if key is not None:
                    by_version.setdefault(key, []).append(name)
        elif m.group("bind") != "LOCAL":
            defined.add(name)
    return (
        tuple(undefined),
        frozenset(defined),
        {k: tuple(v) for k, v in by_version.items()},
    )


def readelf_view(path: Path) -> ReadelfView:
    segments = readelf(path, "-l")
    dynamic = readelf(path, "-d")
    versions = readelf(path, "-V")
    needs, index = _versions(versions)
    undefined, defined, by_version = _symbols(readelf(path, "--dyn-syms"), index)
    flags = _one(r"\(FLAGS_1\)\s+Flags: (.*)", dynamic)
    return ReadelfView(
        interp=_one(r"\[Requesting program interpreter: (.*)\]", segments),
        has_dynamic=bool(re.search(r"^\s+DYNAMIC\s", segments, re.M)),
        needed=tuple(re.findall(r"\(NEEDED\)\s+Shared library: \[(.*)\]", dynamic)),
        soname=_one(r"\(SONAME\)\s+Library soname: \[(.*)\]", dynamic),
        rpath=_one(r"\(RPATH\)\s+Library rpath: \[(.*)\]", dynamic),
        runpath=_one(r"\(RUNPATH\)\s+Library runpath: \[(.*)\]", dynamic),
        flags_1=frozenset(flags.split()) if flags else frozenset(),
        version_needs=tuple(needs),
        need_index=index,
        version_defs=_defs(versions),
        undefined=undefined,
        defined=defined,
        undefined_by_version=by_version,
    )


# --- the oracle, on every fixture and on a sample of the host's ELF files ---------------------

ELF_FIXTURES = tuple(r.name for r in RECIPES)


def _host_sample() -> tuple[Path, ...]:
    """A deterministic sample of real ELF files on this machine (libraries and programs)."""
    picked: list[Path] = []
    for pattern, count in (("/usr/lib/x86_64-linux-gnu/*.so*", 40), ("/usr/bin/*", 40)):
        found = 0
        for path in sorted(Path("/").glob(pattern.lstrip("/"))):
            if found == count:
                break
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as f:
                if is_elf(f.read(4)):
                    picked.append(path)
                    found += 1
    return tuple(picked)


HOST_SAMPLE = _host_sample()


def assert_matches_readelf(info: ElfInfo, path: Path) -> None:
    view = readelf_view(path)
    assert info.interp == view.interp
    assert info.has_dynamic == view.has_dynamic
    assert info.needed == view.needed
    assert info.soname == view.soname
    assert info.rpath == (None if view.rpath is None else tuple(view.rpath.split(":")))
    assert info.runpath == (None if view.runpath is None else tuple(view.runpath.split(":")))
    assert info.nodeflib == ("NODEFLIB" in view.flags_1)
    assert bool(info.flags_1 & info.DF_1_PIE) == ("PIE" in view.flags_1)
    assert tuple((v.file, v.version, v.weak) for v in info.version_needs) == view.version_needs
    assert info.version_defs == view.version_defs
    if not info.has_dynamic:
        return
    assert info.undefined_symbols == view.undefined
    assert info.defined_symbols == view.defined
    for need in info.version_needs:
        assert need.symbols == view.undefined_by_version.get((need.file, need.version), ())


@pytest.mark.parametrize("name", ELF_FIXTURES)
def test_fixture_matches_readelf(fixture_binaries: Binaries, name: str) -> None:
    path = fixture_binaries.path(name)
    assert_matches_readelf(parse_elf(path.read_bytes(), name=name), path)


@pytest.mark.parametrize("path", HOST_SAMPLE, ids=[p.name for p in HOST_SAMPLE])
def test_host_file_matches_readelf(path: Path) -> None:
    assert_matches_readelf(parse_elf(path.read_bytes(), name=str(path)), path)


MULTILIB_FILES = (
    "lib32/libc.so.6",
    "lib32/ld-linux.so.2",
    "lib32/libm.so.6",
    "libx32/libc.so.6",
    "libx32/ld-linux-x32.so.2",
)


@pytest.mark.parametrize("relpath", MULTILIB_FILES)
def test_32bit_libraries_match_readelf(base_glibc_multilib: Path, relpath: str) -> None:
    """ELFCLASS32 from real packages: i386 (EM_386) and x32 (ELFCLASS32 + EM_X86_64)."""
    path = base_glibc_multilib / relpath
    info = parse_elf(path.read_bytes(), name=relpath)
    assert info.elf_class is ElfClass.ELFCLASS32
    x32 = relpath.startswith("libx32")
    assert (info.machine, info.arch) == ((62, None) if x32 else (3, "386"))
    assert_matches_readelf(info, path)


def test_go_s390x_is_big_endian(fixture_binaries: Binaries) -> None:
    info = parse_elf(fixture_binaries.path("go-s390x").read_bytes())
    assert (info.little_endian, info.machine, info.arch) == (False, 22, "s390x")
    assert info.go is not None and info.go.setting("GOARCH") == "s390x"


def test_go_386_is_elfclass32(fixture_binaries: Binaries) -> None:
    info = parse_elf(fixture_binaries.path("go-386").read_bytes())
    assert (info.elf_class, info.machine, info.arch) == (ElfClass.ELFCLASS32, 3, "386")
    assert info.go is not None and info.go.setting("GOARCH") == "386"


# --- exact values ------------------------------------------------------------------------------

EXPECTED_LINKAGE = {
    "libfoo.so.1": Linkage.SHARED_LIBRARY,
    "libver.so.1": Linkage.SHARED_LIBRARY,
    "libver.so.1-v1only": Linkage.SHARED_LIBRARY,
    "stub-libc.so.6": Linkage.SHARED_LIBRARY,
    "c-dynamic": Linkage.DYNAMIC,
    "c-nopie": Linkage.DYNAMIC,
    "c-static": Linkage.STATIC,
    "c-static-pie": Linkage.STATIC_PIE,
    "cxx-dynamic": Linkage.DYNAMIC,
    "c-libfoo": Linkage.DYNAMIC,
    "c-rpath": Linkage.DYNAMIC,
    "c-runpath": Linkage.DYNAMIC,
    "c-nodeflib": Linkage.DYNAMIC,
    "c-nodeflib-runpath": Linkage.DYNAMIC,
    "c-ver2": Linkage.DYNAMIC,
    "musl-dynamic": Linkage.DYNAMIC,
    "musl-static": Linkage.STATIC,
    "arm64-dynamic": Linkage.DYNAMIC,
    "arm64-static": Linkage.STATIC,
    "go-static": Linkage.STATIC,
    "go-pie": Linkage.DYNAMIC,  # PT_INTERP without any DT_NEEDED
    "go-386": Linkage.STATIC,
    "go-arm64": Linkage.STATIC,
    "go-s390x": Linkage.STATIC,
    "go-cgo": Linkage.DYNAMIC,
    "go-cgo-static": Linkage.STATIC,
}


def test_every_fixture_has_an_expected_linkage() -> None:
    assert set(EXPECTED_LINKAGE) == set(ELF_FIXTURES)


@pytest.mark.parametrize("name", ELF_FIXTURES)
def test_linkage(fixture_binaries: Binaries, name: str) -> None:
    info = parse_elf(fixture_binaries.path(name).read_bytes(), name=name)
    assert info.linkage is EXPECTED_LINKAGE[name]
    assert info.arch == fixture_binaries[name].arch


def _parse(binaries: Binaries, name: str) -> ElfInfo:
    return parse_elf(binaries.path(name).read_bytes(), name=name)


def test_c_dynamic(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "c-dynamic")
    assert (info.elf_class, info.little_endian, info.machine) == (ElfClass.ELFCLASS64, True, 62)
    assert (info.osabi, info.e_type) == (0, 3)
    assert info.interp == "/lib64/ld-linux-x86-64.so.2"
    assert info.needed == ("libc.so.6",)
    assert (info.soname, info.rpath, info.runpath) == (None, None, None)
    assert info.flags_1 == info.DF_1_PIE
    # Built on glibc 2.36: __libc_start_main@GLIBC_2.34 is what fails on Debian 11.
    needs = {(v.file, v.version): v.symbols for v in info.version_needs}
    assert needs[("libc.so.6", "GLIBC_2.34")] == ("__libc_start_main",)
    assert needs[("libc.so.6", "GLIBC_2.2.5")] == ("puts", "__cxa_finalize")
    assert info.undefined_symbols == ("__libc_start_main", "puts")
    assert info.version_defs == ()
    assert info.go is None


def test_static_has_no_dynamic_facts(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "c-static")
    assert (info.interp, info.has_dynamic, info.e_type) == (None, False, 2)
    assert info.needed == () and info.version_needs == ()
    assert info.undefined_symbols == () and info.defined_symbols == frozenset()


def test_static_pie(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "c-static-pie")
    assert (info.interp, info.has_dynamic, info.e_type, info.needed) == (None, True, 3, ())
    assert info.flags_1 & info.DF_1_PIE


def test_cxx_needs_libstdcxx(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "cxx-dynamic")
    assert info.needed == ("libstdc++.so.6", "libgcc_s.so.1", "libc.so.6")
    files = {v.file for v in info.version_needs}
    assert files == {"libstdc++.so.6", "libgcc_s.so.1", "libc.so.6"}
    cxxabi = {v.version for v in info.version_needs if v.file == "libstdc++.so.6"}
    assert "GLIBCXX_3.4" in cxxabi and "CXXABI_1.3" in cxxabi


@pytest.mark.parametrize(
    ("name", "rpath", "runpath"),
    [
        ("c-rpath", ("$ORIGIN/../lib",), None),
        ("c-runpath", None, ("$ORIGIN/../lib",)),
        ("c-libfoo", None, None),
        ("c-nodeflib-runpath", None, ("$ORIGIN/../lib",)),
    ],
)
def test_rpath_runpath(
    fixture_binaries: Binaries, name: str, rpath: tuple[str, ...] | None, runpath: object
) -> None:
    info = _parse(fixture_binaries, name)
    assert (info.rpath, info.runpath) == (rpath, runpath)
    assert info.needed == ("libfoo.so.1", "libc.so.6")


def test_nodeflib(fixture_binaries: Binaries) -> None:
    assert _parse(fixture_binaries, "c-nodeflib").nodeflib
    assert _parse(fixture_binaries, "c-nodeflib-runpath").nodeflib
    assert not _parse(fixture_binaries, "c-dynamic").nodeflib


def test_symbol_versions_libver(fixture_binaries: Binaries) -> None:
    consumer = _parse(fixture_binaries, "c-ver2")
    needs = [(v.file, v.version, v.weak, v.symbols) for v in consumer.version_needs]
    assert needs[:2] == [
        ("libver.so.1", "VER_2", False, ("ver_two",)),
        ("libver.so.1", "VER_1", False, ("ver_one",)),
    ]
    full = _parse(fixture_binaries, "libver.so.1")
    old = _parse(fixture_binaries, "libver.so.1-v1only")
    assert (full.soname, full.version_defs) == ("libver.so.1", ("libver.so.1", "VER_1", "VER_2"))
    assert (old.soname, old.version_defs) == ("libver.so.1", ("libver.so.1", "VER_1"))
    assert full.defined_symbols is not None and {"ver_one", "ver_two"} <= full.defined_symbols
    assert old.defined_symbols is not None and "ver_two" not in old.defined_symbols


def test_stub_glibc_stops_at_2_31(fixture_binaries: Binaries) -> None:
    stub = _parse(fixture_binaries, "stub-libc.so.6")
    assert stub.soname == "libc.so.6"
    assert stub.version_defs[:3] == ("libc.so.6", "GLIBC_2.2.5", "GLIBC_2.2.6")
    assert stub.version_defs[-1] == "GLIBC_2.31"
    assert "GLIBC_2.34" not in stub.version_defs


def test_musl_dynamic(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "musl-dynamic")
    assert info.interp == "/lib/ld-musl-x86_64.so.1"
    assert info.needed == ("libc.so",)  # Debian's musl-gcc (../shared/FACTS.md)
    assert info.version_needs == ()  # musl has no symbol versioning
    assert info.undefined_symbols == ("puts", "__libc_start_main")


def test_arm64(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "arm64-dynamic")
    assert (info.machine, info.arch, info.elf_class) == (183, "arm64", ElfClass.ELFCLASS64)
    assert info.interp == "/lib/ld-linux-aarch64.so.1"
    assert info.needed == ("libc.so.6",)
    assert _parse(fixture_binaries, "arm64-static").linkage is Linkage.STATIC


def test_go_pie_needs_loader_without_needed(fixture_binaries: Binaries) -> None:
    info = _parse(fixture_binaries, "go-pie")
    assert info.interp == "/lib64/ld-linux-x86-64.so.2"
    assert info.needed == ()
    # Go 1.19 does not record -buildmode=pie (go version -m shows no -buildmode line).
    assert info.go is not None and info.go.setting("-buildmode") is None


def test_stream_and_bytes_agree(fixture_binaries: Binaries) -> None:
    for name in ELF_FIXTURES:
        path = fixture_binaries.path(name)
        with path.open("rb") as f:
            assert parse_elf(f, name=name) == parse_elf(path.read_bytes(), name=name)


def _strip_section_headers(data: bytes) -> bytes:
    """What sstrip does: e_shoff, e_shnum and e_shstrndx zeroed (ELF64 little-endian)."""
    out = bytearray(data)
    out[0x28:0x30] = bytes(8)  # e_shoff
    out[0x3C:0x40] = bytes(4)  # e_shnum, e_shstrndx
    return bytes(out)


@pytest.mark.parametrize("name", ["c-dynamic", "c-ver2", "cxx-dynamic", "go-cgo", "go-static"])
def test_stripped_section_headers_read_the_same(fixture_binaries: Binaries, name: str) -> None:
    """ld.so never reads section headers: without them parse_elf reaches the same tables
    through PT_DYNAMIC (pyelftools' DynamicSegment) and gives the same answers."""
    data = fixture_binaries.path(name).read_bytes()
    assert parse_elf(_strip_section_headers(data)) == parse_elf(data)


def test_is_elf() -> None:
    assert is_elf(b"\x7fELF\x02\x01")
    assert not is_elf(b"#!/bin/sh\n")
    assert not is_elf(b"\x7fEL")


def test_parse_elf_reads_stream_lazily(fixture_binaries: Binaries) -> None:
    """A stream is read in place (not slurped): a 2 MB Go binary costs a few reads."""
    path = fixture_binaries.path("go-static")

    class CountingReader(io.BufferedReader):
        total = 0

        def read(self, size: int | None = -1, /) -> bytes:
            data = super().read(size)
            CountingReader.total += len(data)
            return data

    with CountingReader(io.FileIO(path)) as f:
        info = parse_elf(f, name="go-static")
    assert info.go is not None
    assert CountingReader.total < path.stat().st_size // 4
