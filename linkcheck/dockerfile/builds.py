"""What a build command produces: one small detector per toolchain -> :class:`Artifact`.

Each detector reads one simple command (argv already expanded, plus the environment the shell
would pass it) and decides whether the output is static or dynamic and which libc it needs, as
a tri-state (:class:`Linkage`) with the reason in words. Build flags only *predict* linkage;
the image check (``linkcheck analyze``) decides from the ELF itself (FACTS.md, "Static,
static-pie, dynamic").
"""

from __future__ import annotations

import enum
import posixpath
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.dockerfile.catalog import BaseImage, LibcFlavour
from linkcheck.dockerfile.words import is_marker

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["Artifact", "BuildContext", "Linkage", "detect"]


class Linkage(enum.Enum):
    STATIC = "static"
    DYNAMIC = "dynamic"
    UNCERTAIN = "uncertain"  # dynamic or not depending on the source code; the reason says how


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file (or set of files) a RUN line leaves in its stage."""

    kind: str  # "go", "rust", "c", "python", "pyinstaller"
    path: str  # where it is in the builder stage; "*" in a component = name not known
    linkage: Linkage
    libc: LibcFlavour  # the libc a non-static artifact needs
    libc_version: str | None  # glibc version of the builder, when it is glibc
    reason: str
    builder: str  # stage label
    builder_ref: str  # the builder's base image
    line: int  # the RUN line


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a detector may know about the stage a command runs in."""

    stage: str
    base: BaseImage
    cc: bool | None  # a C compiler on PATH
    platform: str  # FROM --platform value, "" when not given
    cwd: str
    line: int
    apk_rust: bool  # rust/cargo from Alpine's packages (dynamic by default, unlike rustup's)

    def artifact(
        self,
        kind: str,
        path: str,
        linkage: Linkage,
        reason: str,
        libc: LibcFlavour | None = None,
        version: str | None = None,
    ) -> Artifact:
        libc = self.base.libc if libc is None else libc
        if version is None and libc is self.base.libc:
            version = self.base.libc_version
        return Artifact(
            kind, path, linkage, libc, version, reason, self.stage, self.base.name, self.line
        )

    def abspath(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.cwd, path))


_DETECTORS: list[Callable[[tuple[str, ...], Mapping[str, str], BuildContext], Artifact | None]] = []


def _detector(
    func: Callable[[tuple[str, ...], Mapping[str, str], BuildContext], Artifact | None],
) -> Callable[[tuple[str, ...], Mapping[str, str], BuildContext], Artifact | None]:
    _DETECTORS.append(func)
    return func


def detect(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    """The artifact ``argv`` builds, or None when it is not a build command we understand."""
    for func in _DETECTORS:
        found = func(argv, env, ctx)
        if found is not None:
            return found
    return None


def _options(argv: tuple[str, ...], names: frozenset[str]) -> dict[str, str]:
    """``-o x``, ``-o=x``, ``--target x`` style options (last one wins)."""
    found: dict[str, str] = {}
    for i, word in enumerate(argv):
        key, sep, value = word.partition("=")
        if key in names:
            if sep:
                found[key] = value
            elif i + 1 < len(argv):
                found[key] = argv[i + 1]
    return found


# --- Go --------------------------------------------------------------------------------------
_EXISTING_DIRS = frozenset({"/usr/local/bin", "/usr/bin", "/bin", "/go/bin", "/usr/local/sbin"})
_GO_OPTS = frozenset({"-o", "-ldflags", "--ldflags", "-tags", "--tags", "-buildmode"})


@_detector
def _go(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    if posixpath.basename(argv[0]) != "go" or len(argv) < 2 or argv[1] not in ("build", "install"):
        return None
    goflags = tuple(env.get("GOFLAGS", "").split())
    opts = _options(goflags + argv[2:], _GO_OPTS)
    if argv[1] == "install":
        gopath = env.get("GOPATH") or "/root/go"
        path = posixpath.join(env.get("GOBIN") or posixpath.join(gopath, "bin"), "*")
    elif "-o" in opts:
        out = opts["-o"]
        # "an existing directory or ends with a slash" (go help build): guess the usual dirs
        into_dir = out.endswith("/") or ctx.abspath(out) in _EXISTING_DIRS or out == "."
        path = ctx.abspath(out) + ("/*" if into_dir else "")
    else:
        path = ctx.abspath("*")
    linkage, reason = go_linkage(opts, env, ctx)
    return ctx.artifact("go", path, linkage, reason)


def go_linkage(
    opts: Mapping[str, str], env: Mapping[str, str], ctx: BuildContext
) -> tuple[Linkage, str]:
    """Go's linkage from CGO_ENABLED (explicit or defaulted), -buildmode, -ldflags, -tags.

    Defaults per ``go help environment`` / cmd/go: cgo is on for native builds when a C
    compiler is on PATH, off when cross-compiling or (Go >= 1.20) when no compiler is found.
    """
    pie = opts.get("-buildmode") == "pie"
    ldflags = opts.get("-ldflags", opts.get("--ldflags", ""))
    extstatic = re.search(r"-extldflags[= ]+['\"]?[^'\"]*-static\b", ldflags) is not None
    tags = set(re.split(r"[,\s]+", opts.get("-tags", opts.get("--tags", ""))))
    cgo = env.get("CGO_ENABLED", "")
    if cgo == "0" or (cgo != "1" and _cgo_default_off(env, ctx) is not None):
        why = "CGO_ENABLED=0" if cgo == "0" else str(_cgo_default_off(env, ctx))
        if pie:
            return Linkage.DYNAMIC, f"{why}, but -buildmode=pie asks for the dynamic loader"
        return Linkage.STATIC, why
    if extstatic:
        return Linkage.STATIC, "-ldflags -extldflags -static"
    if pie:
        return Linkage.DYNAMIC, "-buildmode=pie with cgo"
    if cgo == "1":
        return Linkage.DYNAMIC, "CGO_ENABLED=1"
    if {"netgo", "osusergo"} <= tags:
        return Linkage.STATIC, "-tags netgo,osusergo keeps net and os/user off cgo"
    compiler = "has a C compiler" if ctx.cc else "may have a C compiler"
    when = " for native builds" if env.get("GOARCH") else ""
    return Linkage.UNCERTAIN, (
        f"CGO_ENABLED unset and {ctx.base.name} {compiler}, so cgo is on{when}"
        " and any cgo package (net, os/user) links it dynamically"
    )


def _cgo_default_off(env: Mapping[str, str], ctx: BuildContext) -> str | None:
    """Why cgo is off by default here, or None when it is (or may be) on.

    Cross-compiling means GOOS/GOARCH differ from the host's (GOHOSTOS is linux in any
    builder). A GOARCH compared with nothing (no literal ``FROM --platform``) or with
    ``$BUILDPLATFORM`` may be native: that stays "may be on".
    """
    if ctx.cc is False:
        return f"{ctx.base.name} has no C compiler, so cgo is off by default (Go >= 1.20)"
    goarch, goos = env.get("GOARCH", ""), env.get("GOOS", "")
    if goos and not is_marker(goos) and goos != "linux":
        return f"cross-compiling (GOOS={goos}) turns cgo off by default"
    platform = ctx.platform.split("/")
    known = goarch and not is_marker(goarch + ctx.platform) and len(platform) > 1
    if known and goarch != platform[1]:
        return f"cross-compiling (GOARCH={goarch} on {ctx.platform}) turns cgo off by default"
    return None


# --- Rust ------------------------------------------------------------------------------------
_CARGO_OPTS = frozenset({"--target", "--target-dir", "--profile", "--root"})


@_detector
def _cargo(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    if posixpath.basename(argv[0]) != "cargo" or len(argv) < 2:
        return None
    sub = argv[2] if argv[1] == "auditable" and len(argv) > 2 else argv[1]
    if sub not in ("build", "install", "zigbuild"):
        return None
    opts = _options(argv[2:], _CARGO_OPTS)
    target = opts.get("--target") or env.get("CARGO_BUILD_TARGET", "")
    if sub == "install":
        root = opts.get("--root") or env.get("CARGO_INSTALL_ROOT") or env.get("CARGO_HOME")
        path = posixpath.join(ctx.abspath(root or "/root/.cargo"), "bin", "*")
    else:
        profile = opts.get("--profile") or ("release" if "--release" in argv else "debug")
        profile = "debug" if profile == "dev" else profile
        tdir = ctx.abspath(opts.get("--target-dir") or env.get("CARGO_TARGET_DIR") or "target")
        triple = re.sub(r"\.2\.\d+$", "", target)  # zigbuild's glibc pin is not in the path
        path = posixpath.join(tdir, triple, profile, "*") if triple else f"{tdir}/{profile}/*"
    return _rust_artifact(path, target, env, ctx)


def _rust_artifact(path: str, target: str, env: Mapping[str, str], ctx: BuildContext) -> Artifact:
    flags = " ".join(env.get(k, "") for k in ("RUSTFLAGS", "CARGO_BUILD_RUSTFLAGS"))
    crt = (
        "+crt-static" if "+crt-static" in flags else "-crt-static" if "-crt-static" in flags else ""
    )
    if target:
        libc = (
            LibcFlavour.MUSL
            if "musl" in target
            else LibcFlavour.GLIBC
            if "gnu" in target
            else LibcFlavour.UNKNOWN
        )
        where = f"--target {target}"
    else:
        libc, where = ctx.base.libc, f"the host target of {ctx.base.name}"
    # cargo-zigbuild pins the glibc version in the target: x86_64-unknown-linux-gnu.2.17
    pinned = re.search(r"-gnu\w*\.(2\.\d+)$", target)
    version = pinned.group(1) if pinned else None
    if crt:
        linkage = Linkage.STATIC if crt == "+crt-static" else Linkage.DYNAMIC
        return ctx.artifact("rust", path, linkage, f"{where} with {crt}", libc, version)
    if libc is LibcFlavour.MUSL and not ctx.apk_rust:
        # rustc's *-linux-musl targets default to crt-static (rustc target spec).
        return ctx.artifact(
            "rust", path, Linkage.STATIC, f"{where} (musl: static by default)", libc
        )
    if libc is LibcFlavour.MUSL:
        # Alpine's rust package turns the crt-static default off (aports main/rust).
        reason = f"{where} with Alpine's rust (dynamic by default)"
        return ctx.artifact("rust", path, Linkage.DYNAMIC, reason, libc)
    if libc is LibcFlavour.UNKNOWN:
        return ctx.artifact("rust", path, Linkage.UNCERTAIN, f"{where}: libc not known", libc)
    reason = f"{where} ({libc.value}: dynamic)"
    return ctx.artifact("rust", path, Linkage.DYNAMIC, reason, libc, version)


# --- C / C++ ---------------------------------------------------------------------------------
_CC = re.compile(r"(?:[\w.]+-)?(?:gcc|g\+\+|cc|c\+\+|clang|clang\+\+)(?:-\d+)?")
_NOT_LINKING = frozenset({"-c", "-S", "-E", "-M", "-MM", "-shared", "--version", "-v"})


@_detector
def _c(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    name = posixpath.basename(argv[0])
    if not _CC.fullmatch(name) or _NOT_LINKING & set(argv) or "-o" not in argv:
        return None
    opts = _options(argv[1:], frozenset({"-o"}))
    path = ctx.abspath(opts["-o"])
    musl = "musl" in name
    libc = LibcFlavour.MUSL if musl else ctx.base.libc
    if "-static" in argv or "-static-pie" in argv:
        flag = "-static-pie" if "-static-pie" in argv else "-static"
        return ctx.artifact("c", path, Linkage.STATIC, f"{name} {flag}", libc)
    if libc is LibcFlavour.UNKNOWN:
        return ctx.artifact("c", path, Linkage.UNCERTAIN, f"{name} on {ctx.base.name}", libc)
    where = "musl-gcc" if musl else f"{name} on {ctx.base.name}"
    return ctx.artifact("c", path, Linkage.DYNAMIC, f"{where} without -static", libc)


# --- Python ----------------------------------------------------------------------------------
@_detector
def _pyinstaller(
    argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext
) -> Artifact | None:
    if posixpath.basename(argv[0]) != "pyinstaller" and argv[:3] != ("python", "-m", "PyInstaller"):
        return None
    dist = _options(argv, frozenset({"--distpath"})).get("--distpath", "dist")
    # PyInstaller's bootloader is an ordinary dynamically linked executable.
    reason = f"PyInstaller bootloader built on {ctx.base.name}"
    return ctx.artifact("pyinstaller", ctx.abspath(dist) + "/*", Linkage.DYNAMIC, reason)


_PIP = re.compile(r"pip(?:3(?:\.\d+)?)?")


@_detector
def _pip(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    words = argv[2:] if len(argv) > 2 and argv[1:3] == ("-m", "pip") else argv
    if words[:2] == ("uv", "pip"):
        words = words[1:]
    if not _PIP.fullmatch(posixpath.basename(words[0])) or len(words) < 2:
        return None
    if words[1] not in ("install", "wheel"):
        return None
    opts = _options(words, frozenset({"--target", "-t", "--prefix", "-w", "--wheel-dir"}))
    chosen = next(
        (opts[k] for k in ("--target", "-t", "--prefix", "-w", "--wheel-dir") if k in opts), None
    )
    if chosen is not None:
        root = ctx.abspath(chosen)
    elif "--user" in words:
        root = "/root/.local"
    elif "/" in words[0] and posixpath.basename(posixpath.dirname(words[0])) == "bin":
        root = posixpath.dirname(posixpath.dirname(words[0]))  # /opt/venv/bin/pip
    else:
        root = env.get("VIRTUAL_ENV") or _venv_on_path(env.get("PATH", "")) or "/usr/local/lib"
    reason = (
        f"pip on {ctx.base.name}: wheels with compiled extensions are built for "
        f"{ctx.base.libc.value}"
    )
    return ctx.artifact("python", root + "/**", Linkage.UNCERTAIN, reason)


_SYSTEM_BIN = frozenset(
    {
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/root/.local/bin",
    }
)


def _venv_on_path(path: str) -> str | None:
    """``ENV PATH=/opt/venv/bin:$PATH`` (the usual venv idiom) -> ``/opt/venv``."""
    first = path.split(":", 1)[0].rstrip("/")
    if first.endswith("/bin") and first not in _SYSTEM_BIN:
        return posixpath.dirname(first)
    return None


# --- make / cmake / ninja --------------------------------------------------------------------
_MAKE = frozenset({"make", "gmake", "ninja"})


@_detector
def _make(argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext) -> Artifact | None:
    """A build system run: what it makes is unknown by name, so the verdict is uncertain.

    ``make install`` lands in ``$DESTDIR$PREFIX/{bin,sbin}`` (GNU coding standards: PREFIX
    defaults to /usr/local); a plain build leaves its outputs under the build directory.
    """
    tool = posixpath.basename(argv[0])
    if tool == "cmake" and "--build" in argv:
        where = _options(argv, frozenset({"--build"}))["--build"]
    elif tool == "cmake" and "--install" in argv:
        return _installed(argv, env, ctx, "cmake --install")
    elif tool in _MAKE:
        if "install" in argv:
            return _installed(argv, env, ctx, f"{tool} install")
        where = _options(argv, frozenset({"-C"})).get("-C", ".")
    else:
        return None
    return _made(ctx.abspath(where) + "/**", tool, argv, env, ctx)


def _installed(
    argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext, how: str
) -> Artifact:
    assigned = dict(w.split("=", 1) for w in argv if "=" in w and not w.startswith("-"))
    prefix = assigned.get("PREFIX") or assigned.get("prefix") or env.get("PREFIX") or "/usr/local"
    prefix = _options(argv, frozenset({"--prefix"})).get("--prefix", prefix)
    destdir = assigned.get("DESTDIR") or env.get("DESTDIR") or ""
    bindir = posixpath.normpath(f"{destdir}/{prefix}") + "/*bin/*"
    return _made(bindir, how, argv, env, ctx)


def _made(
    path: str, how: str, argv: tuple[str, ...], env: Mapping[str, str], ctx: BuildContext
) -> Artifact:
    toolchains = dict(ctx.base.env)
    if "GOPATH" in toolchains:  # a Makefile on a Go builder runs "go build": Go's rules apply
        linkage, why = go_linkage(_options(argv, _GO_OPTS), env, ctx)
        if linkage is Linkage.DYNAMIC:  # the Makefile may still set its own CGO_ENABLED
            linkage = Linkage.UNCERTAIN
        return ctx.artifact("go", path, linkage, f"{how} on {ctx.base.name}: {why}")
    if "CARGO_HOME" in toolchains:
        return _rust_artifact(path, env.get("CARGO_BUILD_TARGET", ""), env, ctx)
    flags = " ".join([env.get("LDFLAGS", ""), env.get("CFLAGS", ""), *argv])
    if re.search(r"(?:^|[\s=])-static(?:-pie)?\b", flags):
        return ctx.artifact("c", path, Linkage.STATIC, f"{how} with -static")
    reason = f"{how} on {ctx.base.name}: dynamic unless the build links with -static"
    return ctx.artifact("c", path, Linkage.UNCERTAIN, reason)
