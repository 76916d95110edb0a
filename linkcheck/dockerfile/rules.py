"""The Dockerfile rules: one small registered function each, stable ids.

Line policy (what ``DockerfileFinding.line`` points at, i.e. the instruction to change):

=============================== =========================================================
rule                            line
=============================== =========================================================
dynamic-binary-on-static-base   the ``COPY --from`` that brings the binary into the target
glibc-binary-on-musl-base       the ``COPY --from`` that brings the binary into the target
musl-binary-on-glibc-base       the ``COPY --from`` that brings the binary into the target
glibc-too-new-for-base          the ``COPY --from`` that brings the binary into the target
static-binary-on-libc-base      the ``FROM`` of the target stage (the base is what to change)
=============================== =========================================================

The COPY line names which binary is at stake (one Dockerfile may copy several, built in
different ways); the message also gives the builder's RUN line and the target's base.
Uncertain linkage (``Linkage.UNCERTAIN``) turns an error into a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from packaging.version import InvalidVersion, Version

from linkcheck.dockerfile.builds import Artifact, Linkage
from linkcheck.dockerfile.catalog import LibcFlavour
from linkcheck.model import Severity

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from linkcheck.dockerfile.stages import Placed, Stage

    ArtifactRule = Callable[[Stage, Placed], "DockerfileFinding | None"]
    StageRule = Callable[[Stage], "DockerfileFinding | None"]

__all__ = ["ARTIFACT_RULES", "RULE_IDS", "STAGE_RULES", "DockerfileFinding", "check_stage"]

STATIC_BASE = "gcr.io/distroless/static-debian12"
GLIBC_BASE = "gcr.io/distroless/base-debian12"
# glibc 2.34 merged libpthread/libdl into libc: anything linked against >= 2.34 needs
# GLIBC_2.34 (__libc_start_main), so it cannot start on an older glibc (FACTS.md).
GLIBC_HARD_FLOOR = Version("2.34")
_DEBIAN_CODENAMES = {
    "debian10": "buster",
    "debian11": "bullseye",
    "debian12": "bookworm",
    "debian13": "trixie",
}


@dataclass(frozen=True, slots=True)
class DockerfileFinding:
    """One problem in a Dockerfile, at the line of the instruction to change."""

    rule: str
    severity: Severity
    line: int
    message: str
    hint: str | None
    stage: str | None  # the target stage (``--target``) that has the problem


ARTIFACT_RULES: dict[str, ArtifactRule] = {}  # run once per binary copied into a target
STAGE_RULES: dict[str, StageRule] = {}  # run once per target stage


def _artifact_rule(rule_id: str) -> Callable[[ArtifactRule], ArtifactRule]:
    def register(func: ArtifactRule) -> ArtifactRule:
        ARTIFACT_RULES[rule_id] = func
        return func

    return register


def check_stage(stage: Stage) -> Iterator[DockerfileFinding]:
    """Every rule on one target stage: per copied artifact, then per stage."""
    for placed in stage.placed:
        if placed.copy_line is None:
            continue  # built in this stage's own lineage: it runs where it was built
        for rule in ARTIFACT_RULES.values():
            found = rule(stage, placed)
            if found is not None:
                yield found
    for stage_rule in STAGE_RULES.values():
        found = stage_rule(stage)
        if found is not None:
            yield found


def _severity(artifact: Artifact) -> Severity:
    return Severity.ERROR if artifact.linkage is Linkage.DYNAMIC else Severity.WARNING


def _what(placed: Placed) -> str:
    a = placed.artifact
    linked = "dynamically linked" if a.linkage is Linkage.DYNAMIC else "likely dynamically linked"
    libc = "an unknown libc" if a.libc is LibcFlavour.UNKNOWN else a.libc.value
    return (
        f"{_shown(placed.path)} is {linked} against {libc} (built in stage {a.builder!r} "
        f"at line {a.line}: {a.reason})"
    )


def _shown(path: str) -> str:
    """``/opt/venv/**`` (a whole tree) reads better as ``/opt/venv/``."""
    return path[:-2] if path.endswith("/**") else path


def _finding(
    rule: str, severity: Severity, stage: Stage, placed: Placed, message: str, hint: str
) -> DockerfileFinding:
    line = placed.copy_line if placed.copy_line is not None else stage.from_line
    return DockerfileFinding(rule, severity, line, message, hint, stage.label)


@_artifact_rule("dynamic-binary-on-static-base")
def dynamic_on_static(stage: Stage, placed: Placed) -> DockerfileFinding | None:
    a = placed.artifact
    if stage.base.libc is not LibcFlavour.NONE or a.linkage is Linkage.STATIC:
        return None
    message = (
        f"{_what(placed)}, but {stage.base.name} has no dynamic loader or libc: "
        "exec fails with 'no such file or directory'"
    )
    severity = _severity(a)
    if "loader-copied" in stage.provides:
        message += " unless the loader and libraries copied in by hand are complete"
        severity = Severity.WARNING
    return _finding(
        "dynamic-binary-on-static-base", severity, stage, placed, message, _static_hint(a)
    )


def _static_hint(a: Artifact) -> str:
    libc_base = "alpine" if a.libc is LibcFlavour.MUSL else GLIBC_BASE
    libc = a.libc.value if a.libc is not LibcFlavour.UNKNOWN else "libc"
    if a.kind == "go":
        if "-buildmode=pie" in a.reason and "CGO_ENABLED=0" in a.reason:
            return f"drop -buildmode=pie (cgo is off already), or use a {libc} base: {libc_base}"
        return f"rebuild with CGO_ENABLED=0, or use a {libc}-dynamic base such as {libc_base}"
    if a.kind == "rust":
        return (
            "build with --target x86_64-unknown-linux-musl or RUSTFLAGS='-C target-feature="
            f"+crt-static', or use a base with {libc} such as gcr.io/distroless/cc-debian12"
        )
    if a.kind == "c":
        return f"link with -static or -static-pie, or use a {libc} base such as {libc_base}"
    return f"use a {libc} base such as {libc_base}"


@_artifact_rule("glibc-binary-on-musl-base")
def glibc_on_musl(stage: Stage, placed: Placed) -> DockerfileFinding | None:
    a = placed.artifact
    if stage.base.libc is not LibcFlavour.MUSL or a.libc is not LibcFlavour.GLIBC:
        return None
    if a.linkage is Linkage.STATIC:
        return None
    severity = _severity(a)
    message = (
        f"{_what(placed)}, but {stage.base.name} is a musl image: the glibc loader "
        "/lib64/ld-linux-x86-64.so.2 is not there"
    )
    if "glibc-compat" in stage.provides:
        # gcompat/libc6-compat shim the loader; musl has no symbol versioning, so the binary
        # may start and still die with "Error relocating ...: symbol not found" (FACTS.md).
        severity = Severity.WARNING
        message = (
            f"{_what(placed)}, and {stage.base.name} is a musl image with a glibc compatibility "
            "shim: it may start, then fail with 'Error relocating ... symbol not found'"
        )
    hint = (
        "build it in an Alpine stage (musl) or statically"
        + (" (CGO_ENABLED=0)" if a.kind == "go" else "")
        + f", or use a glibc base such as {GLIBC_BASE} or debian:bookworm-slim"
    )
    return _finding("glibc-binary-on-musl-base", severity, stage, placed, message, hint)


@_artifact_rule("musl-binary-on-glibc-base")
def musl_on_glibc(stage: Stage, placed: Placed) -> DockerfileFinding | None:
    a = placed.artifact
    if stage.base.libc is not LibcFlavour.GLIBC or a.libc is not LibcFlavour.MUSL:
        return None
    if "musl" in stage.provides:
        return None  # Debian's musl package installs /lib/ld-musl-$ARCH.so.1
    if a.linkage is Linkage.STATIC:
        return None
    message = (
        f"{_what(placed)}, but {stage.base.name} is a glibc image: the musl loader "
        "/lib/ld-musl-x86_64.so.1 is not there"
    )
    hint = (
        "link it statically (a static musl binary runs on any base), build it on a glibc "
        "builder, or use an alpine base"
    )
    return _finding("musl-binary-on-glibc-base", _severity(a), stage, placed, message, hint)


def _version(text: str | None) -> Version | None:
    try:
        return Version(text) if text else None
    except InvalidVersion:
        return None


@_artifact_rule("glibc-too-new-for-base")
def glibc_too_new(stage: Stage, placed: Placed) -> DockerfileFinding | None:
    a = placed.artifact
    built, have = _version(a.libc_version), _version(stage.base.libc_version)
    if a.libc is not LibcFlavour.GLIBC or stage.base.libc is not LibcFlavour.GLIBC:
        return None
    if a.linkage is Linkage.STATIC or a.kind == "python" or not built or not have:
        return None  # manylinux wheels target old glibc on purpose: no verdict from pip alone
    if built <= have:
        return None
    certain = a.linkage is Linkage.DYNAMIC and built >= GLIBC_HARD_FLOOR > have
    message = (
        f"{_shown(placed.path)} was built against glibc {a.libc_version} ({a.builder_ref}, stage "
        f"{a.builder!r} line {a.line}) but {stage.base.name} has glibc {stage.base.libc_version}: "
        + (
            'it needs GLIBC_2.34 or newer and fails with "version `GLIBC_2.34\' not found"'
            if certain
            else "it fails if it uses any symbol newer than the base's glibc"
        )
    )
    codename = _DEBIAN_CODENAMES.get(stage.base.release or "")
    builder_repo = a.builder_ref.rsplit(":", 1)[0]
    same = f"{builder_repo}:<version>-{codename}" if codename else "a builder as old as the base"
    hint = f"build on {same}, or use a base with glibc >= {a.libc_version}"
    severity = Severity.ERROR if certain else Severity.WARNING
    return _finding("glibc-too-new-for-base", severity, stage, placed, message, hint)


def static_on_libc(stage: Stage) -> DockerfileFinding | None:
    """Info: everything copied in is static and nothing needs the base's libc or shell."""
    copied = [p for p in stage.placed if p.copy_line is not None]
    if stage.base.libc not in (LibcFlavour.GLIBC, LibcFlavour.MUSL) or not copied:
        return None
    if stage.runs or stage.needs_shell or any(p.artifact.kind == "python" for p in copied):
        return None
    if any(p.artifact.linkage is not Linkage.STATIC for p in copied):
        return None
    program = stage.program
    if program is not None and not any(_runs(program, p.path) for p in copied):
        return None  # the entrypoint is something else (a script, an interpreter...)
    names = ", ".join(sorted({_shown(p.path) for p in copied}))
    message = (
        f"every binary copied into stage {stage.label!r} is static ({names}); "
        f"{stage.base.name} ships a {stage.base.libc.value} nothing here uses"
    )
    hint = f"FROM {STATIC_BASE} (or scratch) gives a smaller image with the same behaviour"
    return DockerfileFinding(
        "static-binary-on-libc-base", Severity.INFO, stage.from_line, message, hint, stage.label
    )


def _runs(program: str, path: str) -> bool:
    """Whether argv[0] ``program`` names the file at ``path`` (by path, or by name on PATH)."""
    if "/" in program:
        return fnmatchcase(program, path)
    return fnmatchcase(program, path.rsplit("/", 1)[-1])


STAGE_RULES["static-binary-on-libc-base"] = static_on_libc
RULE_IDS = (*ARTIFACT_RULES, *STAGE_RULES)
