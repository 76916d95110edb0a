"""The fixes findings suggest, as data: which base to pick, how to rebuild.

Go build info (CGO_ENABLED) only *explains* a finding and picks the wording of the fix; the
finding itself always comes from the ELF file (../shared/FACTS.md "Static, static-pie,
dynamic").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.model import Libc

if TYPE_CHECKING:
    from linkcheck.elf.info import ElfInfo

__all__ = ["GLIBC_BASES", "STATIC_BASES", "libc_mismatch_hint", "wants_libc"]

GLIBC_BASES = "gcr.io/distroless/base-debian12, cgr.dev/chainguard/glibc-dynamic"
STATIC_BASES = "gcr.io/distroless/static-debian12, scratch"
MUSL_BASES = "alpine"

CGO_HINT = f"rebuild with CGO_ENABLED=0, or use a glibc-dynamic base ({GLIBC_BASES})"
# Go's -buildmode=pie links an executable that asks for the loader even without cgo (no
# DT_NEEDED at all); Go 1.19 does not record -buildmode in the build info, so the tell is a
# Go binary with PT_INTERP and cgo off.
GO_PIE_HINT = (
    "this Go binary is a PIE (-buildmode=pie), which needs the dynamic loader even with "
    f"CGO_ENABLED=0: drop -buildmode=pie for a static binary, or use a glibc base ({GLIBC_BASES})"
)


def wants_libc(info: ElfInfo) -> Libc:
    """The libc an executable was linked against, from its PT_INTERP name."""
    if info.interp is None:
        return Libc.NONE
    base = info.interp.rsplit("/", 1)[-1]
    if base.startswith("ld-musl-"):
        return Libc.MUSL
    if base.startswith(("ld-linux", "ld64.so", "ld.so")):
        return Libc.GLIBC
    return Libc.UNKNOWN


def _is_cgo(info: ElfInfo) -> bool:
    return info.go is not None and info.go.cgo_enabled is True


def libc_mismatch_hint(info: ElfInfo, base: Libc) -> str:
    """The fix when a dynamically linked program meets a base without its libc/loader."""
    wanted = wants_libc(info)
    if info.go is not None and info.go.cgo_enabled is False and wanted is Libc.GLIBC:
        return GO_PIE_HINT
    if _is_cgo(info) and wanted is Libc.GLIBC:
        if base is Libc.MUSL:
            return (
                "rebuild with CGO_ENABLED=0, build it on a musl builder (golang:alpine), "
                f"or use a glibc base ({GLIBC_BASES})"
            )
        return CGO_HINT
    if _is_cgo(info) and wanted is Libc.MUSL:
        return f"rebuild with CGO_ENABLED=0, or use a musl base ({MUSL_BASES})"
    if wanted is Libc.GLIBC and base is Libc.MUSL:
        return (
            "this program is built for glibc: build it against musl (on an alpine builder), "
            f"link it statically, or use a glibc base (debian, {GLIBC_BASES})"
        )
    if wanted is Libc.MUSL and base is not Libc.MUSL:
        return (
            "this program is built for musl (alpine): build it on a builder with the base's "
            f"libc, link it statically, or use a musl base ({MUSL_BASES})"
        )
    if wanted is Libc.GLIBC:
        return (
            "link it statically (gcc -static; Go: CGO_ENABLED=0), or use a glibc base "
            f"({GLIBC_BASES})"
        )
    return "install the program's loader in the image, or link the program statically"
