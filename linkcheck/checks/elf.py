"""Rules about each ELF file itself: its machine, its PT_INTERP, whether it parses at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.checks import register
from linkcheck.checks.facts import Scope
from linkcheck.checks.hints import STATIC_BASES, libc_mismatch_hint, wants_libc
from linkcheck.elf.info import Linkage
from linkcheck.entrypoints import ExecRole
from linkcheck.loader.objects import FileKind
from linkcheck.model import Finding, Libc, Severity

if TYPE_CHECKING:
    from collections.abc import Iterator

    from linkcheck.checks.facts import Facts, Target
    from linkcheck.elf.info import ElfInfo
    from linkcheck.model import DetailValue

# A 64-bit kernel may run the 32-bit ABI of its own family (IA32 emulation, AArch32 EL0),
# but many hosts (and most arm64 server cores) do not: a warning, not an error.
_COMPAT = {("amd64", "386"), ("arm64", "arm")}


def _mismatch(facts: Facts, target: Target, path: str, info: ElfInfo, what: str) -> Finding | None:
    want = facts.platform.architecture
    have = info.arch
    if have is None or want in ("", "unknown") or have == want:
        return None
    usual = Severity.WARNING if (want, have) in _COMPAT else Severity.ERROR
    return Finding(
        "arch-mismatch",
        target.severity(usual),
        path,
        f"{what} {path} is built for {have} ({info.elf_class.name}) but the image platform is "
        f"{facts.platform} (exec format error)",
        f"build it for {facts.platform} (GOARCH={want}, or the {want} cross compiler), or "
        f"publish the image as {facts.platform.os}/{have} (docker buildx --platform)",
        (("elf_arch", have), ("platform", str(facts.platform)), *target.scope_detail()),
    )


@register("arch-mismatch", Severity.ERROR, "ELF machine or class differs from the platform")
def arch_mismatch(facts: Facts) -> Iterator[Finding]:
    for target in facts.targets:
        info = target.file.info
        if info is None:
            continue
        what = "the program" if target.step is not None else "the file"
        found = _mismatch(facts, target, target.file.real_path, info, what)
        if found is not None:
            yield found
            continue  # its loader and libraries are for the other arch too; say it once
        closure = target.closure
        if closure is None:
            continue
        loaded = [*closure.objects[1:]]
        if closure.interpreter_object is not None:
            loaded.append(closure.interpreter_object)
        for obj in loaded:  # only musl maps these; glibc skips other-machine candidates
            found = _mismatch(facts, target, obj.real_path, obj.info, "the library")
            if found is not None:
                yield found


def _interp_problem(target: Target) -> str | None:
    closure = target.closure
    if closure is None or closure.interpreter is None:
        return None
    interp = closure.interpreter
    if interp.kind is FileKind.MISSING:
        res = interp.resolution
        if res.hops:
            return f"is a dangling symlink ({res.hops[-1]})"
        return "is not in the image"
    if interp.kind is not FileKind.ELF:
        return f"is not a loadable ELF file ({interp.kind.value})"
    return None


@register(
    "missing-interpreter", Severity.ERROR, "PT_INTERP or the #! interpreter is not in the image"
)
def missing_elf_interpreter(facts: Facts) -> Iterator[Finding]:
    for target in facts.targets:
        info = target.file.info
        why = _interp_problem(target)
        if info is None or why is None or info.interp is None:
            continue
        if _mismatch(facts, target, target.file.real_path, info, "") is not None:
            continue  # the kernel refuses the ELF header first (elf_check_arch): ENOEXEC
        wanted = wants_libc(info)
        detail: list[tuple[str, DetailValue]] = [
            ("interpreter", info.interp),
            ("wants_libc", wanted.value),
            ("base_libc", facts.base.libc.value),
            ("needed", info.needed),
        ]
        if info.go is not None:
            detail += [("go_version", info.go.go_version), ("cgo_enabled", info.go.cgo_enabled)]
        interp = target.closure.interpreter if target.closure else None
        if interp is not None and interp.resolution.hops:
            detail.append(("hops", interp.resolution.hops))
        libc = f" ({wanted.value})" if wanted in (Libc.GLIBC, Libc.MUSL) else ""
        yield Finding(
            "missing-interpreter",
            target.severity(Severity.ERROR),
            target.file.real_path,
            f"{target.file.real_path} is dynamically linked, and its loader{libc} {info.interp} "
            f"{why}: exec fails with 'no such file or directory'",
            libc_mismatch_hint(info, facts.base.libc),
            (*detail, *target.scope_detail()),
        )


@register("malformed-elf", Severity.ERROR, "a file with ELF magic that cannot be parsed")
def malformed_elf(facts: Facts) -> Iterator[Finding]:
    for target in facts.targets:
        if target.file.kind is not FileKind.MALFORMED_ELF:
            continue
        path = target.file.real_path
        # A corrupt file is worth a warning wherever it is, even in an unused library.
        usual = Severity.ERROR if target.scope is Scope.ENTRYPOINT else Severity.WARNING
        yield Finding(
            "malformed-elf",
            usual,
            path,
            f"{path} starts like an ELF file but cannot be read: {target.file.error}",
            "rebuild or re-copy the file: it is truncated or corrupt",
            (("error", target.file.error), *target.scope_detail()),
        )


@register(
    "static-binary-on-libc-base", Severity.INFO, "a static entrypoint could use a static base"
)
def static_on_libc_base(facts: Facts) -> Iterator[Finding]:
    if facts.base.libc not in (Libc.GLIBC, Libc.MUSL):
        return
    for target in facts.targets:
        info = target.file.info
        if target.step is None or target.step.role is not ExecRole.ENTRYPOINT or info is None:
            continue
        if info.linkage not in (Linkage.STATIC, Linkage.STATIC_PIE):
            continue
        if _mismatch(facts, target, target.file.real_path, info, "") is not None:
            continue  # it cannot run here at all: arch-mismatch says so
        yield Finding(
            "static-binary-on-libc-base",
            Severity.INFO,
            target.file.real_path,
            f"{target.file.real_path} is statically linked ({info.linkage.value}) and does not "
            f"use the base's {facts.base.libc.value}: it could run on a static base",
            f"a smaller base would do: {STATIC_BASES}",
            (("linkage", info.linkage.value), ("base_libc", facts.base.libc.value)),
        )
