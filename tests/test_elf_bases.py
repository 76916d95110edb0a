"""parse_elf on every ELF file of the Debian-package bases, with readelf as the oracle, and the
layout each base promises in tests/support/bases.py."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from linkcheck.elf import Linkage, is_elf, parse_elf
from tests.test_elf import assert_matches_readelf

if TYPE_CHECKING:
    from linkcheck.elf import ElfInfo

# What each base adds to the ones it is built on (the rest is checked once, in base_glibc).
BASES = {
    "base_glibc": ("",),
    "base_glibc_shell": ("bin", "usr/bin"),
    "base_glibc_multilib": ("lib32", "libx32"),
    "base_musl": ("",),
    "base_arm64_glibc": ("",),
    "base_static": ("",),
}


def elf_files(root: Path) -> list[Path]:
    found = []
    for directory, _dirs, files in os.walk(root):
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as f:
                if is_elf(f.read(4)):
                    found.append(path)
    return sorted(found)


@pytest.mark.parametrize("base", BASES)
def test_every_elf_file_matches_readelf(request: pytest.FixtureRequest, base: str) -> None:
    root: Path = request.getfixturevalue(base)
    files = [f for sub in BASES[base] for f in elf_files(root / sub)]
    for path in files:
        assert_matches_readelf(parse_elf(path.read_bytes(), name=str(path)), path)
    assert bool(files) == (base != "base_static")


def _info(root: Path, path: str) -> ElfInfo:
    return parse_elf((root / path.lstrip("/")).read_bytes(), name=path)


def test_glibc_layout(base_glibc: Path) -> None:
    ld = base_glibc / "lib64/ld-linux-x86-64.so.2"
    assert os.readlink(ld) == "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"
    loader = _info(base_glibc, "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
    assert (loader.soname, loader.interp, loader.linkage) == (
        "ld-linux-x86-64.so.2",
        None,
        Linkage.SHARED_LIBRARY,
    )
    libc = _info(base_glibc, "/lib/x86_64-linux-gnu/libc.so.6")
    assert libc.interp == "/lib64/ld-linux-x86-64.so.2"  # libc.so.6 is also a program
    assert "GLIBC_2.34" in libc.version_defs and "GLIBC_2.36" in libc.version_defs
    assert "GLIBC_2.37" not in libc.version_defs
    assert (base_glibc / "usr/lib/x86_64-linux-gnu/libstdc++.so.6").exists()
    assert (base_glibc / "etc/ld.so.cache").is_file()


def test_shell_layout(base_glibc_shell: Path) -> None:
    assert os.readlink(base_glibc_shell / "bin/sh") == "dash"
    for path in ("/bin/dash", "/bin/bash", "/usr/bin/env", "/bin/ls"):
        assert _info(base_glibc_shell, path).linkage is Linkage.DYNAMIC


def test_musl_layout(base_musl: Path) -> None:
    musl = _info(base_musl, "/lib/ld-musl-x86_64.so.1")
    assert (musl.interp, musl.needed, musl.linkage) == (None, (), Linkage.SHARED_LIBRARY)
    assert musl.defined_symbols is not None and "puts" in musl.defined_symbols
    assert musl.version_defs == ()  # musl has no symbol versioning
    assert os.readlink(base_musl / "lib/libc.musl-x86_64.so.1") == "ld-musl-x86_64.so.1"
    assert os.readlink(base_musl / "bin/sh") == "busybox"
    assert os.readlink(base_musl / "usr/bin/env") == "../../bin/busybox"
    assert _info(base_musl, "/bin/busybox").interp is None
    assert not (base_musl / "etc/ld-musl-x86_64.path").exists()
    assert not (base_musl / "lib64").exists()


def test_arm64_layout(base_arm64_glibc: Path) -> None:
    ld = base_arm64_glibc / "lib/ld-linux-aarch64.so.1"
    assert os.readlink(ld) == "aarch64-linux-gnu/ld-linux-aarch64.so.1"
    libc = _info(base_arm64_glibc, "/lib/aarch64-linux-gnu/libc.so.6")
    assert (libc.arch, libc.interp) == ("arm64", "/lib/ld-linux-aarch64.so.1")
    assert not (base_arm64_glibc / "etc/ld.so.cache").exists()


def test_static_layout(base_static: Path) -> None:
    names = sorted(str(p.relative_to(base_static)) for p in base_static.rglob("*"))
    assert names == ["etc", "etc/group", "etc/nsswitch.conf", "etc/passwd", "tmp"]
