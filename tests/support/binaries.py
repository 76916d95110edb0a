"""Real binaries for the tests, built once per session from ``fixtures/src``.

``build_binaries()`` (also the session fixture ``fixture_binaries``) compiles every fixture
below with the real toolchains (gcc, g++, musl-gcc, go, aarch64-linux-gnu-gcc) and returns a
:class:`Binaries` set. Results are cached under ``<repo>/.cache/fixtures/<key>/`` where the key
hashes the sources, this module and the tool versions; set ``LINKCHECK_FIXTURE_CACHE=0`` to
build into the session's temp dir instead. ``python -m tests.support.binaries [DIR]`` builds
them from a shell and prints the paths.

Layout of the build directory (``Binaries.root``)::

    bin/<name>                      every executable and script below
    lib/libfoo.so.1                 soname libfoo.so.1, exports foo_name
    lib/libver.so.1                 soname libver.so.1, defines VER_1 (ver_one), VER_2 (ver_two)
    lib-ver1/libver.so.1            the same soname, defines only VER_1
    stub-glibc-2.31/libc.so.6       soname libc.so.6, version nodes GLIBC_2.2.5 .. GLIBC_2.31

Executables (each prints ``output`` and exits 0 when it can start):

===================== =======================================================================
name                  what it is
===================== =======================================================================
c-dynamic             gcc default (PIE, ET_DYN): interp /lib64/ld-linux-x86-64.so.2, needs
                      libc.so.6 with GLIBC_2.34 (__libc_start_main) -- fails on glibc 2.31
c-nopie               gcc -no-pie: ET_EXEC, dynamic
c-static              gcc -static: no PT_INTERP, no PT_DYNAMIC
c-static-pie          gcc -static-pie: ET_DYN with PT_DYNAMIC, no PT_INTERP
cxx-dynamic           g++: needs libstdc++.so.6, libm.so.6, libgcc_s.so.1, libc.so.6
c-libfoo              needs libfoo.so.1, no RPATH/RUNPATH
c-rpath               needs libfoo.so.1, DT_RPATH $ORIGIN/../lib
c-runpath             needs libfoo.so.1, DT_RUNPATH $ORIGIN/../lib
c-nodeflib            -Wl,-z,nodefaultlib: DF_1_NODEFLIB, needs libc.so.6; glibc then
                      rejects cache entries in system dirs too (elf/dl-load.c), so it does
                      NOT start on a standard glibc base ("cannot open shared object file")
c-nodeflib-runpath    DF_1_NODEFLIB + DT_RUNPATH $ORIGIN/../lib, needs libfoo.so.1 and libc.so.6:
                      starts only when both are in $ORIGIN/../lib (a copy of libc.so.6 works)
c-ver2                needs libver.so.1 versions VER_1 (ver_one) and VER_2 (ver_two)
musl-dynamic          musl-gcc: interp /lib/ld-musl-x86_64.so.1, needs libc.so (Debian's
                      musl-gcc; Alpine-built binaries need libc.musl-x86_64.so.1 instead)
musl-static           musl-gcc -static
go-static             CGO_ENABLED=0 go build: static ET_EXEC
go-386                GOARCH=386 CGO_ENABLED=0: static ELFCLASS32 (runs on amd64 kernels)
go-arm64              GOARCH=arm64 CGO_ENABLED=0: static arm64
go-s390x              GOARCH=s390x CGO_ENABLED=0: static, big-endian ELFCLASS64
go-cgo                CGO_ENABLED=1, imports "C": dynamic, needs libc.so.6
go-cgo-static         CGO_ENABLED=1 -ldflags '-linkmode external -extldflags -static': static
go-pie                CGO_ENABLED=0 -buildmode=pie: PT_INTERP, no DT_NEEDED
arm64-dynamic         aarch64-linux-gnu-gcc: interp /lib/ld-linux-aarch64.so.1
arm64-static          aarch64-linux-gnu-gcc -static
script-sh             #!/bin/sh
script-bash           #!/bin/bash
script-env-bash       #!/usr/bin/env bash
script-crlf           #!/bin/sh with CRLF line ends (the kernel looks for "/bin/sh\\r")
script-no-shebang     a shell script without #! (execve: exec format error)
===================== =======================================================================
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["Binaries", "FixtureBinary", "build_binaries", "fixture_binaries"]

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "fixtures" / "src"
CACHE = REPO / ".cache" / "fixtures"


@dataclass(frozen=True, slots=True)
class FixtureBinary:
    name: str
    path: Path
    description: str
    output: str | None  # what it prints when it starts; None for libraries
    arch: str  # OCI architecture: "amd64", "arm64"


@dataclass(frozen=True, slots=True)
class Binaries:
    root: Path
    items: tuple[FixtureBinary, ...]

    def __getitem__(self, name: str) -> FixtureBinary:
        for item in self.items:
            if item.name == name:
                return item
        raise KeyError(name)

    def names(self) -> tuple[str, ...]:
        return tuple(item.name for item in self.items)

    def path(self, name: str) -> Path:
        return self[name].path


@dataclass(frozen=True, slots=True)
class _Recipe:
    name: str
    out: str  # relative to the build root
    argv: tuple[str, ...]  # "{out}" and "{root}" are substituted
    description: str
    output: str | None = None
    arch: str = "amd64"
    cwd: str = "."  # relative to fixtures/src
    env: tuple[tuple[str, str], ...] = ()
    stage: int = 1  # stage 0 (libraries) is built before everything that links to them


def _gcc(name: str, *flags: str, src: str = "hello.c", cc: str = "gcc") -> tuple[str, ...]:
    return (cc, "-O2", "-Wall", f'-DNAME="{name}"', "-o", "{out}", src, *flags)


_LIBFOO = ("-L{root}/lib", "-l:libfoo.so.1")
_GO_ENV = (("CGO_ENABLED", "0"),)
_GO_CGO_ENV = (("CGO_ENABLED", "1"),)
_GO = ("go", "build", "-buildvcs=false", "-o", "{out}")

_SHARED = ("gcc", "-O2", "-shared", "-fPIC", "-o", "{out}")
RECIPES: tuple[_Recipe, ...] = (
    _Recipe(
        "libfoo.so.1", "lib/libfoo.so.1", (*_SHARED, "foo.c", "-Wl,-soname,libfoo.so.1"),
        "custom library, soname libfoo.so.1", stage=0,
    ),
    _Recipe(
        "libver.so.1", "lib/libver.so.1",
        (*_SHARED, "ver.c", "-Wl,-soname,libver.so.1", "-Wl,--version-script=ver.map"),
        "libver.so.1 defining VER_1 and VER_2", stage=0,
    ),
    _Recipe(
        "libver.so.1-v1only", "lib-ver1/libver.so.1",
        (*_SHARED, "-DONLY_VER_1", "ver.c", "-Wl,-soname,libver.so.1",
         "-Wl,--version-script=ver_v1only.map"),
        "libver.so.1 defining only VER_1", stage=0,
    ),
    _Recipe(
        "stub-libc.so.6", "stub-glibc-2.31/libc.so.6",
        (*_SHARED, "-nostdlib", "stubc.c", "-Wl,-soname,libc.so.6",
         "-Wl,--version-script=stub_glibc_2.31.map"),
        "stub libc.so.6 whose versions stop at GLIBC_2.31", stage=0,
    ),
    _Recipe("c-dynamic", "bin/c-dynamic", _gcc("c-dynamic"), "gcc, dynamic PIE",
            "hello from c-dynamic"),
    _Recipe("c-nopie", "bin/c-nopie", _gcc("c-nopie", "-no-pie"), "gcc -no-pie",
            "hello from c-nopie"),
    _Recipe("c-static", "bin/c-static", _gcc("c-static", "-static"), "gcc -static",
            "hello from c-static"),
    _Recipe("c-static-pie", "bin/c-static-pie", _gcc("c-static-pie", "-static-pie"),
            "gcc -static-pie", "hello from c-static-pie"),
    _Recipe("cxx-dynamic", "bin/cxx-dynamic",
            ("g++", "-O2", "-o", "{out}", "hello.cpp"), "g++, needs libstdc++.so.6",
            "hello from c++"),
    _Recipe("c-libfoo", "bin/c-libfoo", _gcc("c-libfoo", *_LIBFOO, src="use_foo.c"),
            "needs libfoo.so.1, no rpath", "hello from c-libfoo via foo"),
    _Recipe("c-rpath", "bin/c-rpath",
            _gcc("c-rpath", *_LIBFOO, "-Wl,--disable-new-dtags",
                 "-Wl,-rpath,$ORIGIN/../lib", src="use_foo.c"),
            "DT_RPATH $ORIGIN/../lib, needs libfoo.so.1", "hello from c-rpath via foo"),
    _Recipe("c-runpath", "bin/c-runpath",
            _gcc("c-runpath", *_LIBFOO, "-Wl,--enable-new-dtags",
                 "-Wl,-rpath,$ORIGIN/../lib", src="use_foo.c"),
            "DT_RUNPATH $ORIGIN/../lib, needs libfoo.so.1", "hello from c-runpath via foo"),
    _Recipe("c-nodeflib", "bin/c-nodeflib", _gcc("c-nodeflib", "-Wl,-z,nodefaultlib"),
            "DF_1_NODEFLIB", "hello from c-nodeflib"),
    _Recipe("c-nodeflib-runpath", "bin/c-nodeflib-runpath",
            _gcc("c-nodeflib-runpath", *_LIBFOO, "-Wl,-z,nodefaultlib", "-Wl,--enable-new-dtags",
                 "-Wl,-rpath,$ORIGIN/../lib", src="use_foo.c"),
            "DF_1_NODEFLIB + DT_RUNPATH $ORIGIN/../lib, needs libfoo.so.1",
            "hello from c-nodeflib-runpath via foo"),
    _Recipe("c-ver2", "bin/c-ver2",
            ("gcc", "-O2", "-o", "{out}", "use_ver.c", "-L{root}/lib", "-l:libver.so.1"),
            "needs VER_2 from libver.so.1", "hello from libver 1 2"),
    _Recipe("musl-dynamic", "bin/musl-dynamic", _gcc("musl-dynamic", cc="musl-gcc"),
            "musl-gcc, dynamic", "hello from musl-dynamic"),
    _Recipe("musl-static", "bin/musl-static", _gcc("musl-static", "-static", cc="musl-gcc"),
            "musl-gcc -static", "hello from musl-static"),
    _Recipe("arm64-dynamic", "bin/arm64-dynamic",
            _gcc("arm64-dynamic", cc="aarch64-linux-gnu-gcc"),
            "aarch64 glibc, dynamic", "hello from arm64-dynamic", arch="arm64"),
    _Recipe("arm64-static", "bin/arm64-static",
            _gcc("arm64-static", "-static", cc="aarch64-linux-gnu-gcc"),
            "aarch64 glibc, -static", "hello from arm64-static", arch="arm64"),
    _Recipe("go-static", "bin/go-static", (*_GO, "."), "CGO_ENABLED=0", "hello from go",
            cwd="go/static", env=_GO_ENV),
    _Recipe("go-pie", "bin/go-pie", (*_GO, "-buildmode=pie", "."),
            "CGO_ENABLED=0 -buildmode=pie", "hello from go", cwd="go/static", env=_GO_ENV),
    _Recipe("go-386", "bin/go-386", (*_GO, "."), "GOARCH=386 CGO_ENABLED=0: ELFCLASS32",
            "hello from go", arch="386", cwd="go/static", env=(*_GO_ENV, ("GOARCH", "386"))),
    _Recipe("go-arm64", "bin/go-arm64", (*_GO, "."), "GOARCH=arm64 CGO_ENABLED=0",
            "hello from go", arch="arm64", cwd="go/static",
            env=(*_GO_ENV, ("GOARCH", "arm64"))),
    _Recipe("go-s390x", "bin/go-s390x", (*_GO, "."), "GOARCH=s390x CGO_ENABLED=0: big-endian",
            "hello from go", arch="s390x", cwd="go/static",
            env=(*_GO_ENV, ("GOARCH", "s390x"))),
    _Recipe("go-cgo", "bin/go-cgo", (*_GO, "."), "CGO_ENABLED=1 with import \"C\"",
            "hello from go-cgo", cwd="go/cgo", env=_GO_CGO_ENV),
    _Recipe("go-cgo-static", "bin/go-cgo-static",
            (*_GO, "-ldflags", "-linkmode external -extldflags -static", "."),
            "CGO_ENABLED=1, external static link", "hello from go-cgo", cwd="go/cgo",
            env=_GO_CGO_ENV),
)  # fmt: skip

SCRIPTS: tuple[tuple[str, str, str], ...] = (
    ("script-sh", "sh.sh", "hello from sh"),
    ("script-bash", "bash.sh", "hello from bash"),
    ("script-env-bash", "env-bash.sh", "hello from env bash"),
    ("script-crlf", "crlf.sh", "hello from crlf"),
    ("script-no-shebang", "no-shebang.sh", "hello from no shebang"),
)

_TOOLS = ("gcc", "g++", "musl-gcc", "aarch64-linux-gnu-gcc", "go")


def _tool_versions() -> str:
    lines = []
    for tool in _TOOLS:
        argv = [tool, "version"] if tool == "go" else [tool, "--version"]
        done = subprocess.run(argv, capture_output=True, text=True, check=True)
        lines.append(f"{tool}: {done.stdout.splitlines()[0]}")
    return "\n".join(lines)


def cache_key() -> str:
    """Hash of everything that decides the bytes of the fixtures."""
    digest = hashlib.sha256()
    for path in sorted(SRC.rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(SRC)).encode() + b"\0" + path.read_bytes())
    digest.update(Path(__file__).read_bytes())
    digest.update(_tool_versions().encode())
    return digest.hexdigest()[:20]


def _go_env(root: Path) -> dict[str, str]:
    cache = REPO / ".cache"
    return {
        "GOCACHE": str(cache / "go-build"),
        "GOPATH": str(cache / "gopath"),
        "GOFLAGS": "-mod=mod",
        "GO111MODULE": "on",
        "GOPROXY": "off",
        "GOTMPDIR": str(root),
        "HOME": os.environ.get("HOME", str(root)),
    }


def _run(recipe: _Recipe, root: Path) -> None:
    out = root / recipe.out
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = [a.replace("{out}", str(out)).replace("{root}", str(root)) for a in recipe.argv]
    env = dict(os.environ)
    if argv[0] == "go":
        env.update(_go_env(root))
    env.update(recipe.env)
    done = subprocess.run(argv, cwd=SRC / recipe.cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building {recipe.name} failed: {argv}\n{done.stdout}{done.stderr}")


def _build_into(root: Path) -> None:
    stages = sorted({r.stage for r in RECIPES})
    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        for stage in stages:
            # list() re-raises the first build error here.
            list(pool.map(lambda r: _run(r, root), [r for r in RECIPES if r.stage == stage]))
    (root / "bin").mkdir(exist_ok=True)
    for name, src, _ in SCRIPTS:
        shutil.copyfile(SRC / "scripts" / src, root / "bin" / name)
        (root / "bin" / name).chmod(0o755)


def _describe(root: Path) -> Binaries:
    items = [FixtureBinary(r.name, root / r.out, r.description, r.output, r.arch) for r in RECIPES]
    items += [
        FixtureBinary(name, root / "bin" / name, f"script {src}", output, "amd64")
        for name, src, output in SCRIPTS
    ]
    return Binaries(root, tuple(items))


def build_binaries(dest: Path | None = None, *, cache: bool = True) -> Binaries:
    """Build (or reuse) every fixture binary.

    With ``cache`` the result lives in ``<repo>/.cache/fixtures/<key>`` and is reused while the
    key matches; otherwise (or when ``dest`` is given) it is built into ``dest``.
    """
    if dest is not None or not cache:
        root = Path(dest or tempfile.mkdtemp(prefix="linkcheck-bin-"))
        root.mkdir(parents=True, exist_ok=True)
        _build_into(root)
        return _describe(root)
    final = CACHE / cache_key()
    if not (final / ".complete").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        _prune(CACHE)
        work = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
        _build_into(work)
        (work / ".complete").touch()
        try:
            work.rename(final)
        except OSError:  # another session finished the same key first
            shutil.rmtree(work, ignore_errors=True)
    os.utime(final)  # marks it used, for _prune
    return _describe(final)


def _prune(cache: Path, max_age: float = 7 * 86400) -> None:
    now = time.time()
    for entry in cache.iterdir():
        if entry.is_dir() and now - entry.stat().st_mtime > max_age:
            shutil.rmtree(entry, ignore_errors=True)


def _cache_enabled() -> bool:
    return os.environ.get("LINKCHECK_FIXTURE_CACHE", "1") != "0"


@pytest.fixture(scope="session")
def fixture_binaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Binaries]:
    """Every fixture binary, built once per session (see the module docstring)."""
    if _cache_enabled():
        yield build_binaries()
    else:
        yield build_binaries(tmp_path_factory.mktemp("binaries"))


if __name__ == "__main__":
    built = build_binaries(Path(sys.argv[1]) if len(sys.argv) > 1 else None)
    for item in built.items:
        print(f"{item.name:22} {item.path}")
