"""Go build info against ``go version -m`` (Go's own reader) on real Go binaries."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from linkcheck.elf import GoBuildInfo, parse_elf
from linkcheck.elf.gobuildinfo import MAGIC, parse_modinfo

if TYPE_CHECKING:
    from tests.support.binaries import Binaries

GO_FIXTURES = (
    "go-static",
    "go-pie",
    "go-386",
    "go-arm64",
    "go-s390x",
    "go-cgo",
    "go-cgo-static",
)
HOST_GO = tuple(p for p in (Path("/usr/bin/skopeo"), Path("/usr/bin/umoci")) if p.exists())


def go_version_m(path: Path) -> tuple[str, list[tuple[str, str]]]:
    """(go version, [(kind, rest)]) as printed by ``go version -m``."""
    done = subprocess.run(
        ["go", "version", "-m", str(path)], capture_output=True, text=True, check=True
    )
    first, *lines = done.stdout.splitlines()
    version = first.rsplit(": ", 1)[1]
    rows = [tuple(line.strip("\t").split("\t", 1)) for line in lines]
    return version, [(r[0], r[1] if len(r) > 1 else "") for r in rows]


def assert_matches_go(info: GoBuildInfo | None, path: Path) -> None:
    version, rows = go_version_m(path)
    assert info is not None
    assert info.go_version == version
    assert info.path == next((rest for kind, rest in rows if kind == "path"), None)
    mod = next((rest for kind, rest in rows if kind == "mod"), None)
    assert info.main_module == (mod.split("\t")[0] if mod else None)
    printed = [rest for kind, rest in rows if kind == "build"]
    # go version -m prints KEY=VALUE with VALUE quoted when it has spaces: compare raw text.
    assert [k for k, _ in info.settings] == [p.split("=", 1)[0] for p in printed]
    for (key, value), text in zip(info.settings, printed, strict=True):
        raw = text.split("=", 1)[1]
        assert value == (raw[1:-1] if raw.startswith('"') else raw), key


@pytest.mark.parametrize("name", GO_FIXTURES)
def test_fixture_matches_go_version_m(fixture_binaries: Binaries, name: str) -> None:
    path = fixture_binaries.path(name)
    assert_matches_go(parse_elf(path.read_bytes(), name=name).go, path)


@pytest.mark.parametrize("path", HOST_GO, ids=[p.name for p in HOST_GO])
def test_host_go_binary_matches(path: Path) -> None:
    """Debian-built Go programs: -trimpath, no mod line, CGO_ENABLED=1."""
    info = parse_elf(path.read_bytes(), name=str(path)).go
    assert_matches_go(info, path)
    assert info is not None and info.setting("-trimpath") == "true" and info.cgo_enabled


def test_exact_settings(fixture_binaries: Binaries) -> None:
    static = parse_elf(fixture_binaries.path("go-static").read_bytes()).go
    assert static == GoBuildInfo(
        go_version="go1.19.8",
        path="example.com/hello",
        main_module="example.com/hello",
        settings=(
            ("-compiler", "gc"),
            ("CGO_ENABLED", "0"),
            ("GOARCH", "amd64"),
            ("GOOS", "linux"),
            ("GOAMD64", "v1"),
        ),
    )
    external = parse_elf(fixture_binaries.path("go-cgo-static").read_bytes()).go
    assert external is not None and external.cgo_enabled is True
    assert external.setting("-ldflags") == "-linkmode external -extldflags -static"


def test_not_go(fixture_binaries: Binaries) -> None:
    for name in ("c-dynamic", "c-static", "musl-static", "libfoo.so.1"):
        assert parse_elf(fixture_binaries.path(name).read_bytes()).go is None


def _to_pointer_format(data: bytes) -> bytes:
    """Rewrite an inline (Go 1.18+) blob into the pre-1.18 pointer format, in place.

    Layout written (debug/buildinfo, flags byte 0 = little-endian pointers): header pointers
    at +16/+24 to two Go string headers {data, len} at +32/+48, whose bytes follow at +64.
    The bytes after the section are overwritten; the file is only parsed, never run.
    """
    start = data.index(MAGIC)
    vaddr = _offset_to_vaddr(data, start)
    pos = start + 32
    strings = []
    for _ in range(2):
        length, shift = 0, 0
        while True:
            byte = data[pos]
            pos += 1
            length |= (byte & 0x7F) << shift
            shift += 7
            if byte < 0x80:
                break
        strings.append(data[pos : pos + length])
        pos += length
    version, mod = strings
    blob = bytearray(MAGIC + bytes([8, 0]))
    blob += struct.pack("<QQ", vaddr + 32, vaddr + 48)
    blob += struct.pack("<QQ", vaddr + 64, len(version))
    blob += struct.pack("<QQ", vaddr + 64 + len(version), len(mod))
    blob += version + mod
    return data[:start] + bytes(blob) + data[start + len(blob) :]


def _offset_to_vaddr(data: bytes, offset: int) -> int:
    phoff, phnum = struct.unpack_from("<Q", data, 0x20)[0], data[0x38]
    for i in range(phnum):
        p_type, _f, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + 56 * i
        )
        if p_type == 1 and p_offset <= offset < p_offset + p_filesz:
            return int(p_vaddr + offset - p_offset)
    raise AssertionError("offset not in a PT_LOAD")


def test_pre_118_pointer_format(fixture_binaries: Binaries, tmp_path: Path) -> None:
    """The old format, made from a real binary and checked with go version -m itself."""
    original = fixture_binaries.path("go-cgo-static")
    mutated = tmp_path / "go-old-format"
    mutated.write_bytes(_to_pointer_format(original.read_bytes()))
    shutil.copymode(original, mutated)
    info = parse_elf(mutated.read_bytes()).go
    assert_matches_go(info, mutated)
    assert info == parse_elf(original.read_bytes()).go


def test_parse_modinfo_lines() -> None:
    modinfo = "\n".join(
        [
            "path\texample.com/cmd/app",
            "mod\texample.com\tv1.2.3\th1:abc=",
            "dep\tgolang.org/x/sys\tv0.1.0\th1:def=",
            "=>\t../sys\t(devel)\t",
            'build\t-tags="netgo,osusergo"',
            'build\t-ldflags="-s -w -X \\"main.v=1\\""',
            'build\t"weird key"=x',
            "build\tCGO_ENABLED=0",
            "build\tnot a setting",
            "garbage line",
        ]
    )
    info = parse_modinfo("go1.22.1", modinfo)
    assert info == GoBuildInfo(
        go_version="go1.22.1",
        path="example.com/cmd/app",
        main_module="example.com",
        settings=(
            ("-tags", "netgo,osusergo"),
            ("-ldflags", '-s -w -X "main.v=1"'),
            ("weird key", "x"),
            ("CGO_ENABLED", "0"),
        ),
    )
    assert info.cgo_enabled is False
