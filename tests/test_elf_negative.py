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
import tracemalloc
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
        assert time.perf_counter() - started < HANG_GUARD


def test_not_elf_at_all() -> None:
    with pytest.raises(ElfError, match=r"invalid ELF magic b'#!/b'"):
        parse_elf(b"#!/bin/sh\necho hi\n", name="script")


# --- hostile tables: pyelftools trusts counts and offsets, linkcheck must not ---------------

# A hang guard, not a speed target (speed is measured by `make bench`): these parses take
# ~2 ms; only a loop that the read budget failed to stop could come near this bound, and a
# loaded CI machine cannot.
HANG_GUARD = 30.0


def _stripped(data: bytes) -> bytes:
    """What sstrip does: e_shoff, e_shnum and e_shstrndx zeroed (ELF64 little-endian)."""
    out = bytearray(data)
    out[0x28:0x30] = bytes(8)
    out[0x3C:0x40] = bytes(4)
    return bytes(out)


def _dynamic_entries(data: bytes) -> list[tuple[int, int, int]]:
    """(file position, d_tag, d_val) of every entry of PT_DYNAMIC."""
    _, _, offset, size = next(p for p in _phdrs(data) if p[1] == 2)
    return [
        (pos, *struct.unpack_from("<qQ", data, pos)) for pos in range(offset, offset + size, 16)
    ]


def _vaddr_to_offset(data: bytes, vaddr: int) -> int:
    phoff, phnum = struct.unpack_from("<Q", data, 0x20)[0], data[0x38]
    for i in range(phnum):
        p_type, _f, p_offset, p_vaddr, _pa, p_filesz = struct.unpack_from(
            "<IIQQQQ", data, phoff + 56 * i
        )
        if p_type == 1 and p_vaddr <= vaddr < p_vaddr + p_filesz:
            return int(p_offset + vaddr - p_vaddr)
    raise AssertionError(f"{vaddr:#x} is in no PT_LOAD")


def _section_header(data: bytes, sh_type: int) -> int:
    """File position of the first section header of type ``sh_type``."""
    shoff, shnum = struct.unpack_from("<Q", data, 0x28)[0], struct.unpack_from("<H", data, 0x3C)[0]
    for i in range(shnum):
        if struct.unpack_from("<I", data, shoff + 64 * i + 4)[0] == sh_type:
            return int(shoff + 64 * i)
    raise AssertionError(f"no section of type {sh_type}")


def _timed(data: bytes) -> tuple[float, ElfError | None]:
    started = time.perf_counter()
    try:
        parse_elf(data, name="hostile")
        error = None
    except ElfError as e:
        error = e
    return time.perf_counter() - started, error


def _no_dt_null(data: bytes) -> bytes:
    """Every DT_NULL turned into DT_DEBUG, and 16 MiB of non-NULL tags after the file."""
    out = bytearray(data)
    for pos, tag, _ in _dynamic_entries(data):
        if tag == 0:
            struct.pack_into("<qQ", out, pos, 21, 0)
    return _stripped(bytes(out)) + struct.pack("<qQ", 21, 0) * (1 << 20)


def _endless_gnu_hash_chain(data: bytes) -> bytes:
    """The first GNU hash bucket sent to a chain in 16 MiB of zeros (never a last entry)."""
    gnu = next(v for _, t, v in _dynamic_entries(data) if t == 0x6FFFFEF5)
    offset = _vaddr_to_offset(data, gnu)
    nbuckets, symoffset, bloom_size, _ = struct.unpack_from("<4I", data, offset)
    chains = offset + 16 + 8 * bloom_size + 4 * nbuckets
    out = bytearray(_stripped(data))
    struct.pack_into("<I", out, offset + 16 + 8 * bloom_size, symoffset + (len(out) - chains) // 4)
    return bytes(out) + bytes(16 << 20)


def _huge_gnu_hash_buckets(data: bytes) -> bytes:
    gnu = next(v for _, t, v in _dynamic_entries(data) if t == 0x6FFFFEF5)
    out = bytearray(_stripped(data))
    struct.pack_into("<I", out, _vaddr_to_offset(data, gnu), 0x7FFFFFFF)
    return bytes(out)


def _needed_without_nul(data: bytes) -> bytes:
    """DT_NEEDED pointing at 16 MiB of text that never ends (sections stripped)."""
    strtab = _vaddr_to_offset(data, next(v for _, t, v in _dynamic_entries(data) if t == 5))
    out = bytearray(_stripped(data))
    pos = next(p for p, t, _ in _dynamic_entries(data) if t == 1)
    struct.pack_into("<Q", out, pos + 8, len(out) - strtab)
    return bytes(out) + b"A" * (16 << 20)


@pytest.mark.parametrize(
    "mutate",
    [_no_dt_null, _endless_gnu_hash_chain, _huge_gnu_hash_buckets, _needed_without_nul],
    ids=["no-dt-null", "endless-gnu-hash-chain", "huge-gnu-hash-buckets", "needed-without-nul"],
)
def test_hostile_dynamic_tables_fail_fast(fixture_binaries: Binaries, mutate: object) -> None:
    """Tables pyelftools would walk to the end of the file, an element per read."""
    assert callable(mutate)
    elapsed, _ = _timed(mutate(fixture_binaries.path("c-ver2").read_bytes()))
    assert elapsed < HANG_GUARD


def test_huge_gnu_hash_buckets_named(fixture_binaries: Binaries) -> None:
    mutant = _huge_gnu_hash_buckets(fixture_binaries.path("c-ver2").read_bytes())
    with pytest.raises(ElfError, match=r"hostile: DT_GNU_HASH at offset 0x[0-9a-f]+ .* outside"):
        parse_elf(mutant, name="hostile")


def test_no_dt_null_leaves_symbols_unknown(fixture_binaries: Binaries) -> None:
    """Without DT_NULL the symbol count is unknowable without sections: None, not a guess."""
    data = fixture_binaries.path("c-ver2").read_bytes()
    info = parse_elf(_no_dt_null(data), name="hostile")
    good = parse_elf(data)
    assert info.needed == good.needed and info.version_needs[0].file == "libver.so.1"
    assert info.undefined_symbols is None and info.defined_symbols is None
    assert all(v.symbols is None for v in info.version_needs)


def test_absurd_section_count_is_ignored_like_ld_so(fixture_binaries: Binaries) -> None:
    """e_shnum 0 with 2**40 sections in section header 0: the loader facts are still read."""
    data = fixture_binaries.path("c-ver2").read_bytes()
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    out = bytearray(data)
    out[0x3C:0x3E] = bytes(2)  # e_shnum = 0: the count is sh_size of section header 0
    struct.pack_into("<Q", out, shoff + 32, 1 << 40)
    started = time.perf_counter()
    info = parse_elf(bytes(out), name="hostile")
    assert time.perf_counter() - started < HANG_GUARD
    assert info == parse_elf(_stripped(data))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (4, 8, r"SHT_NOBITS"),  # sh_type (pyelftools refuses it as .gnu.version's link)
        (8, 0x800, r"\.dynsym has no plain bytes in the file \(SHT_DYNSYM\)"),  # SHF_COMPRESSED
    ],
    ids=["nobits", "compressed"],
)
def test_dynsym_without_bytes_allocates_nothing(
    fixture_binaries: Binaries, field: int, value: int, message: str
) -> None:
    """pyelftools would make 1 TiB of zeros for NOBITS, or inflate a 'compressed' table."""
    data = bytearray(fixture_binaries.path("c-ver2").read_bytes())
    header = _section_header(bytes(data), 11)  # SHT_DYNSYM
    struct.pack_into("<I" if field == 4 else "<Q", data, header + field, value)
    struct.pack_into("<Q", data, header + 32, 24 << 36)  # sh_size: 1.5 TiB of Elf64_Sym
    tracemalloc.start()
    try:
        with pytest.raises(ElfError, match=message):
            parse_elf(bytes(data), name="hostile")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20


def test_version_chain_is_capped(fixture_binaries: Binaries) -> None:
    """A .gnu.version_r whose entries link to themselves, with sh_info 2**32 - 1."""
    data = bytearray(fixture_binaries.path("c-ver2").read_bytes())
    header = _section_header(bytes(data), 0x6FFFFFFE)  # SHT_GNU_verneed
    struct.pack_into("<I", data, header + 44, 0xFFFFFFFF)  # sh_info
    table = struct.unpack_from("<Q", data, header + 24)[0]
    vn_cnt, vn_aux = (
        struct.unpack_from("<H", data, table + 2)[0],
        struct.unpack_from("<I", data, table + 8)[0],
    )
    assert vn_cnt >= 1
    struct.pack_into("<I", data, table + 12, 16)  # vn_next: the next entry overlaps this one
    struct.pack_into("<I", data, table + vn_aux + 12, 0)  # vna_next 0: one version each
    elapsed, error = _timed(bytes(data))
    assert elapsed < HANG_GUARD
    assert error is None or str(error).startswith("hostile: ")


def test_endless_hash_chain_hits_the_read_budget(fixture_binaries: Binaries) -> None:
    mutant = _endless_gnu_hash_chain(fixture_binaries.path("c-ver2").read_bytes())
    with pytest.raises(ElfError, match=r"^hostile: more than \d+ reads: tables too large"):
        parse_elf(mutant, name="hostile")
