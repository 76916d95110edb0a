"""Go build information: what ``go version -m`` prints, read from ``.go.buildinfo``.

Follows Go's own reader, ``src/debug/buildinfo/buildinfo.go`` (Go 1.18-1.22):

* the blob starts with the 14-byte magic ``\\xff Go buildinf:`` at a 16-byte aligned address,
  found in the ``.go.buildinfo`` section, or (sections stripped) in the first 64 KiB of the
  first writable, non-executable ``PT_LOAD`` segment (``elfExe.DataStart``);
* Go 1.19 does not record ``-buildmode=pie`` (``go version -m`` shows no ``-buildmode`` line
  for the fixture ``go-pie``): the absence of a setting proves nothing;
* byte 14 is the pointer size, byte 15 the flags: bit 1 (``0x2``) means the Go 1.18+ inline
  format, where the version and the module info follow the 32-byte header as uvarint-length
  prefixed strings; otherwise two pointers at offsets 16 and 16+ptrsize point to Go string
  headers ``{data, len}`` (bit 0 = big-endian pointers);
* the module info is framed by 16-byte sentinels (``cmd/go/internal/modload.infoStart/End``),
  and is a list of tab-separated lines parsed like ``runtime/debug.ParseBuildInfo``:
  ``path``, ``mod``, ``dep``, ``=>``, ``build KEY=VALUE`` (KEY and VALUE Go-quoted when needed).
"""

from __future__ import annotations

import ast
import struct
from typing import Protocol

from linkcheck.elf.info import GoBuildInfo

__all__ = ["ProgramImage", "find_go_buildinfo", "parse_modinfo"]

MAGIC = b"\xff Go buildinf:"
_ALIGN = 16
_HEADER_SIZE = 32
_SEARCH_SIZE = 64 * 1024  # debug/buildinfo reads this much of the data segment
_MAX_STRING = 1 << 20  # a module list longer than 1 MiB is not something Go writes


class ProgramImage(Protocol):
    """What this reader needs of an ELF file; the pyelftools adapter provides it."""

    def section_address(self, name: str) -> int | None:
        """``sh_addr`` of the named section if it has bytes in the file; None when absent."""
        ...

    def data_segment_address(self) -> int | None:
        """``p_vaddr`` of the first ``PT_LOAD`` that is writable and not executable."""
        ...

    def read_memory(self, vaddr: int, size: int) -> bytes:
        """Up to ``size`` bytes at ``vaddr``, cut at the end of its segment's file image."""
        ...


def _data_start(image: ProgramImage) -> int | None:
    """Virtual address to search from, as ``debug/buildinfo``'s ``elfExe.DataStart``."""
    address = image.section_address(".go.buildinfo")
    return address if address is not None else image.data_segment_address()


def _find_blob(data: bytes, vaddr: int) -> bytes | None:
    """The blob at the first 16-byte aligned *address* holding the magic.

    debug/buildinfo tests the alignment of the offset into the data it read; that misses the
    blob when the segment start is not 16-aligned (externally linked cgo binaries with their
    sections stripped), so the address is tested here instead.
    """
    start = 0
    while True:
        i = data.find(MAGIC, start)
        if i < 0 or len(data) - i < _HEADER_SIZE:
            return None
        if (vaddr + i) % _ALIGN == 0:
            return data[i:]
        start = i + 1


def _uvarint_string(data: bytes, pos: int) -> tuple[str, int] | None:
    """Go's ``binary.Uvarint`` length prefix, then that many bytes."""
    length = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            if length > _MAX_STRING or pos + length > len(data):
                return None
            return data[pos : pos + length].decode("utf-8", "surrogateescape"), pos + length
        shift += 7
    return None


def _pointer_string(image: ProgramImage, blob: bytes, at: int, ptr_size: int) -> str | None:
    """The pre-1.18 format: a pointer to a Go string header ``{data *byte, len int}``."""
    code = {4: "I", 8: "Q"}.get(ptr_size)
    if code is None:
        return None
    fmt = (">" if blob[15] & 1 else "<") + code
    (addr,) = struct.unpack_from(fmt, blob, at)
    head = image.read_memory(addr, 2 * ptr_size)
    if len(head) < 2 * ptr_size:
        return None
    data_addr, length = struct.unpack_from(fmt[0] + 2 * code, head)
    if length > _MAX_STRING:
        return None
    data = image.read_memory(data_addr, length)
    return data.decode("utf-8", "surrogateescape") if len(data) == length else None


def _raw_build_info(image: ProgramImage) -> tuple[str, str] | None:
    start = _data_start(image)
    if start is None:
        return None
    blob = _find_blob(image.read_memory(start, _SEARCH_SIZE), start)
    if blob is None:
        return None
    ptr_size = blob[14]
    if blob[15] & 2:
        first = _uvarint_string(blob, _HEADER_SIZE)
        second = _uvarint_string(blob, first[1]) if first else None
        version, mod = (first[0], second[0]) if first and second else ("", "")
    else:
        version = _pointer_string(image, blob, 16, ptr_size) or ""
        mod = _pointer_string(image, blob, 16 + ptr_size, ptr_size) or ""
    if not version:
        return None
    # Strip the 16-byte sentinels around the module info (debug/buildinfo does the same test).
    mod = mod[16:-16] if len(mod) >= 33 and mod[-17] == "\n" else ""
    return version, mod


def _unquote(text: str) -> str:
    """Undo Go's ``strconv.Quote`` (used for build keys/values with spaces or quotes)."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            return text
        if isinstance(value, str):
            return value
    return text


def _split_setting(text: str) -> tuple[str, str] | None:
    if text.startswith('"'):
        # A quoted key: find the closing quote not preceded by a backslash.
        i = 1
        while i < len(text) and text[i] != '"':
            i += 2 if text[i] == "\\" else 1
        key, rest = text[: i + 1], text[i + 1 :]
        if not rest.startswith("="):
            return None
        return _unquote(key), _unquote(rest[1:])
    key, sep, value = text.partition("=")
    return (key, _unquote(value)) if sep and key else None


def parse_modinfo(version: str, modinfo: str) -> GoBuildInfo:
    """Build a :class:`GoBuildInfo` from the version string and the unframed module info."""
    path = main = None
    settings: list[tuple[str, str]] = []
    for line in modinfo.splitlines():
        kind, _, rest = line.partition("\t")
        if kind == "path":
            path = rest
        elif kind == "mod":
            main = rest.split("\t")[0] or None
        elif kind == "build":
            setting = _split_setting(rest)
            if setting is not None:
                settings.append(setting)
    return GoBuildInfo(go_version=version, path=path, main_module=main, settings=tuple(settings))


def find_go_buildinfo(image: ProgramImage) -> GoBuildInfo | None:
    """The Go build info of this ELF file, or None when it carries none."""
    raw = _raw_build_info(image)
    return None if raw is None else parse_modinfo(*raw)
