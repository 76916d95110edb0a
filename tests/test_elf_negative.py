"""Malformed ELF made by truncating and flipping bytes of good fixture binaries.

Whatever the damage, ``parse_elf`` returns an ElfInfo or raises ElfError naming the bad value;
it never raises anything else and never hangs.
"""

from __future__ import annotations

import contextlib
import io
import random
import struct
import time
from typing import TYPE_CHECKING

import pytest

from linkcheck.elf import parse_elf
from linkcheck.errors import ElfError

if TYPE_CHECKING:
    from tests.support.binaries import Binaries

VICTIMS = ("c-ver2", "cxx-dynamic", "libver.so.1", "musl-dynamic", "arm64-dynamic", "go-cgo")


def _survives(data: bytes) -> bool:
    """True if parsed, False if ElfError; anything else propagates and fails the test."""
    try:
        parse_elf(data, name="mutant")
    except ElfError as e:
        assert str(e).startswith("mutant: ")
        return False
    return True


@pytest.mark.parametrize("name", VICTIMS)
def test_every_truncation_is_elf_error_or_parses(fixture_binaries: Binaries, name: str) -> None:
    data = fixture_binaries.path(name).read_bytes()
    points = set(range(0, 1024)) | set(range(1024, len(data), max(1, len(data) // 600)))
    outcomes = {n: _survives(data[:n]) for n in sorted(points)}
    # Cut anywhere before the end of the program header table, nothing can be read.
    ph_end = struct.unpack_from("<Q", data, 0x20)[0] + 56 * data[0x38]
    assert not any(ok for n, ok in outcomes.items() if n < ph_end)
    assert _survives(data)


@pytest.mark.parametrize("name", VICTIMS[:-1])
def test_byte_flips_never_escape(fixture_binaries: Binaries, name: str) -> None:
    data = fixture_binaries.path(name).read_bytes()
    rng = random.Random(name)
    # Every byte of the ELF header and program headers, then random spots in the first 16 KiB
    # (dynamic tables live there) and anywhere in the file.
    spots = list(range(0, 0x40 + 14 * 56))
    spots += [rng.randrange(min(len(data), 0x4000)) for _ in range(800)]
    spots += [rng.randrange(len(data)) for _ in range(200)]
    for spot in spots:
        for value in (0x00, 0xFF, data[spot] ^ 0x80, data[spot] + 1 & 0xFF):
            mutant = bytearray(data)
            mutant[spot] = value
            _survives(bytes(mutant))


def test_go_buildinfo_damage(fixture_binaries: Binaries) -> None:
    """Every byte of the .go.buildinfo blob (header and inline strings), flipped."""
    data = fixture_binaries.path("go-cgo").read_bytes()
    start = data.index(b"\xff Go buildinf:")
    for spot in range(start, start + 0x130):
        for value in (0x00, 0xFF, data[spot] ^ 0x80):
            mutant = bytearray(data)
            mutant[spot] = value
            _survives(bytes(mutant))


def test_random_multi_byte_damage_through_a_stream(fixture_binaries: Binaries) -> None:
    data = fixture_binaries.path("c-ver2").read_bytes()
    rng = random.Random(7)
    for _ in range(1500):
        mutant = bytearray(data)
        for _ in range(rng.randint(2, 8)):
            mutant[rng.randrange(min(len(data), 0x1000))] = rng.randrange(256)
        with contextlib.suppress(ElfError):
            parse_elf(io.BytesIO(bytes(mutant)), name="mutant")


def _phdrs(data: bytes) -> list[tuple[int, int, int, int]]:
    """(index, p_type, p_offset, p_filesz) of an ELF64 little-endian file."""
    phoff, phentsize, phnum = struct.unpack_from("<Q", data, 0x20)[0], 56, data[0x38]
    rows = []
    for i in range(phnum):
        p_type, _flags, p_offset = struct.unpack_from("<IIQ", data, phoff + i * phentsize)
        p_filesz = struct.unpack_from("<Q", data, phoff + i * phentsize + 32)[0]
        rows.append((phoff + i * phentsize, p_type, p_offset, p_filesz))
    return rows


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda d: b"\x7fELG" + d[4:], "invalid ELF magic b'\\x7fELG'"),
        (lambda d: d[:4] + b"\x03" + d[5:], "invalid EI_CLASS 3"),
        (lambda d: d[:5] + b"\x00" + d[6:], "invalid EI_DATA 0"),
        (lambda d: d[:40], "ELF header at offset 0x10 (size 48) lies outside the file (40 bytes)"),
        (lambda d: d[:0x36] + b"\x08\x00" + d[0x38:], "e_phentsize 8 is smaller than 56"),
        (lambda d: b"", "e_ident at offset 0x0 (size 16) lies outside the file (0 bytes)"),
    ],
    ids=["magic", "class", "data", "short-header", "phentsize", "empty"],
)
def test_header_errors_name_the_value(
    fixture_binaries: Binaries, patch: object, message: str
) -> None:
    data = fixture_binaries.path("c-dynamic").read_bytes()
    assert callable(patch)
    with pytest.raises(ElfError) as info:
        parse_elf(patch(data), name="app")
    assert str(info.value) == f"app: {message}"


def test_interp_without_nul_is_rejected(fixture_binaries: Binaries) -> None:
    data = bytearray(fixture_binaries.path("c-dynamic").read_bytes())
    _, _, offset, size = next(p for p in _phdrs(bytes(data)) if p[1] == 3)  # PT_INTERP
    data[offset + size - 1] = ord("X")
    expected = r"PT_INTERP b'/lib64/ld-linux-x86-64\.so\.2X' is not NUL-terminated"
    with pytest.raises(ElfError, match=expected):
        parse_elf(bytes(data), name="app")


def test_dynamic_truncated(fixture_binaries: Binaries) -> None:
    data = fixture_binaries.path("c-dynamic").read_bytes()
    _, _, offset, _ = next(p for p in _phdrs(data) if p[1] == 2)  # PT_DYNAMIC
    with pytest.raises(ElfError, match=r"PT_DYNAMIC at offset 0x[0-9a-f]+ .* lies outside"):
        parse_elf(data[: offset + 8], name="app")


def _patch_dynamic_tag(data: bytes, tag: int, value: int) -> bytes:
    out = bytearray(data)
    _, _, offset, size = next(p for p in _phdrs(data) if p[1] == 2)
    for pos in range(offset, offset + size, 16):
        if struct.unpack_from("<q", out, pos)[0] == tag:
            struct.pack_into("<Q", out, pos + 8, value)
            return bytes(out)
    raise AssertionError(f"tag {tag:#x} not found")


def test_strtab_outside_any_segment(fixture_binaries: Binaries) -> None:
    data = _patch_dynamic_tag(fixture_binaries.path("c-dynamic").read_bytes(), 5, 0xDEAD0000)
    with pytest.raises(ElfError, match=r"DT_STRTAB address 0xdead0000 is in no PT_LOAD segment"):
        parse_elf(data, name="app")


def test_huge_counts_are_bounded(fixture_binaries: Binaries) -> None:
    """Absurd DT_VERNEEDNUM / DT_STRSZ values fail fast instead of looping or allocating."""
    data = fixture_binaries.path("c-ver2").read_bytes()
    for tag, value in ((0x6FFFFFFF, 2**63), (10, 2**40), (0x6FFFFFFD, 2**32)):
        try:
            mutant = _patch_dynamic_tag(data, tag, value)
        except AssertionError:
            continue  # the binary has no such tag
        started = time.perf_counter()
        with contextlib.suppress(ElfError):
            parse_elf(mutant, name="app")
        assert time.perf_counter() - started < 1.0


def test_not_elf_at_all() -> None:
    with pytest.raises(ElfError, match=r"invalid ELF magic b'#!/b'"):
        parse_elf(b"#!/bin/sh\necho hi\n", name="script")
