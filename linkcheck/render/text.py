"""The analysis report for people: verdict per platform, base, entrypoint, library tree, fixes.

The library tree is drawn as lddtree (pax-utils) draws it: the program with its interpreter,
then each library indented under the first object that needed it, shown once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.model import Libc, LibraryStatus

if TYPE_CHECKING:
    from linkcheck.model import (
        BaseInfo,
        EntrypointInfo,
        ExecutedFile,
        Finding,
        LibraryNode,
        PlatformReport,
        Report,
    )

__all__ = ["render_text"]

_INDENT = "    "
_STATUS_TEXT = {
    LibraryStatus.NOT_FOUND: "not found",
    LibraryStatus.WRONG_CLASS_ONLY: "not found (only other-arch files)",
    LibraryStatus.STALE_CACHE: "not found (stale ld.so.cache)",
    LibraryStatus.INVALID: "not a loadable ELF",
}


def _base(base: BaseInfo) -> str:
    if base.libc is Libc.NONE:
        text = "static (no libc, no loader)"
    else:
        text = base.libc.value + (f" {base.libc_version}" if base.libc_version else "")
    if base.os_release:
        text += f", {base.os_release}"
    if base.interpreters:
        text += f"; loader {', '.join(base.interpreters)}"
    if base.sonames:
        count = len(base.sonames)
        text += f"; {count} shared librar{'y' if count == 1 else 'ies'}"
    return text


def _name(text: str) -> str:
    """A path as the user should see it: quoted when it hides control characters (CR)."""
    return repr(text) if any(ord(c) < 32 for c in text) else text


def _tree(node: LibraryNode, depth: int, lines: list[str]) -> None:
    for child in node.children:
        if child.repeated or child.source == "interpreter":
            continue  # lddtree shows each library once and the interpreter in the header
        where = _STATUS_TEXT.get(child.status, child.path or "?")
        lines.append(f"{_INDENT * depth}{child.name} => {where}")
        _tree(child, depth + 1, lines)


def _executed(f: ExecutedFile, lines: list[str], indent: str) -> None:
    facts = [f.kind]
    libc = f.libc.value if f.libc and f.libc is not Libc.NONE else None
    facts += [x for x in (f.linkage, f.arch, libc) if x]
    if f.go_version:
        cgo = {True: ", CGO_ENABLED=1", False: ", CGO_ENABLED=0", None: ""}[f.cgo_enabled]
        facts.append(f"{f.go_version}{cgo}")
    shown = _name(f.real_path or f.path or f.name)
    head = f"{indent}{f.role}: {shown} [{', '.join(facts)}]"
    if f.hops:
        head += f" via {'; '.join(f.hops)}"
    lines.append(head)
    if f.libraries is not None:
        interp = f" (interpreter => {f.interpreter})" if f.interpreter else ""
        lines.append(f"{indent}{_INDENT}{f.libraries.name}{interp}")
        tree: list[str] = []
        _tree(f.libraries, 2, tree)
        lines.extend(indent + line for line in tree)
    elif f.interpreter and f.kind == "script":
        lines.append(f"{indent}{_INDENT}#! {_name(f.interpreter)}")
    elif f.interpreter:
        lines.append(f"{indent}{_INDENT}(interpreter => {f.interpreter})")


def _entrypoint(e: EntrypointInfo, lines: list[str]) -> None:
    argv = " ".join(e.argv) if e.argv else "(none)"
    lines.append(f"  entrypoint: {argv}  (user {e.user or 'root'}, workdir {e.working_dir})")
    for f in e.chain:
        _executed(f, lines, "    ")


def _finding(f: Finding, lines: list[str]) -> None:
    lines.append(f"  {f.severity.value}: {f.rule}: {f.message}")
    if f.hint:
        lines.append(f"    fix: {f.hint}")
    for key, value in f.detail:
        if key in ("searched", "rejected", "hops", "layer", "symbols", "not_executable"):
            shown = ", ".join(value) if isinstance(value, tuple) else str(value)
            if shown:
                lines.append(f"    {key}: {shown}")


def _platform(p: PlatformReport, lines: list[str]) -> None:
    lines.append(f"{p.platform}: {p.verdict.value.upper()}")
    lines.append(f"  base: {_base(p.base)}")
    _entrypoint(p.entrypoint, lines)
    if p.scanned:
        lines.append(f"  also checked: {p.scanned} other ELF files")
    if not p.findings:
        lines.append("  no findings: the entrypoint should start")
    for f in p.findings:
        _finding(f, lines)


def render_text(report: Report) -> str:
    names = f" ({', '.join(report.image.names)})" if report.image.names else ""
    lines = [f"image: {report.image.source}{names}"]
    for p in report.platforms:
        lines.append("")
        _platform(p, lines)
    return "\n".join(lines) + "\n"
