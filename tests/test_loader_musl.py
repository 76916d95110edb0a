"""musl's library search on real layouts (programs built with musl-gcc here).

Oracle: the programs are run on the host by its own musl loader where the layout is
``$ORIGIN``-relative (the same tree, seen from outside).
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from linkcheck.image import DirFileSystem
from linkcheck.loader.musl import is_reserved, musl_arch, path_file, split_musl_path
from linkcheck.loader.objects import ObjectReader
from linkcheck.loader.resolver import Closure, Resolver
from linkcheck.loader.types import LibraryLookup, LookupStatus, SearchSource
from linkcheck.model import Libc

if TYPE_CHECKING:
    from pathlib import Path

FOO_C = 'const char *foo_name(void) { return "foo"; }\n'
BAR_C = "const char *foo_name(void);\nconst char *bar_name(void) { return foo_name(); }\n"
USE_BAR_C = (
    "#include <stdio.h>\nconst char *bar_name(void);\n"
    'int main(void) { printf("bar says %s\\n", bar_name()); return 0; }\n'
)
USE_FOO_C = (
    "#include <stdio.h>\nconst char *foo_name(void);\n"
    'int main(void) { printf("foo says %s\\n", foo_name()); return 0; }\n'
)


@dataclass(frozen=True)
class Musl:
    libfoo: Path  # soname libfoo.so.1
    libbar: Path  # soname libbar.so.1, needs libfoo.so.1, no RPATH
    foo: Path  # needs libfoo.so.1, no RPATH
    foo_rpath: Path  # needs libfoo.so.1, DT_RPATH $ORIGIN/../lib
    bar_runpath: Path  # needs libbar.so.1, DT_RUNPATH $ORIGIN/../lib


def _cc(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def musl(tmp_path_factory: pytest.TempPathFactory) -> Musl:
    d = tmp_path_factory.mktemp("musl-build")
    for name, text in (
        ("foo.c", FOO_C),
        ("bar.c", BAR_C),
        ("use_bar.c", USE_BAR_C),
        ("use_foo.c", USE_FOO_C),
    ):
        (d / name).write_text(text)
    shared = ("musl-gcc", "-shared", "-fPIC")
    _cc(*shared, "-o", d / "libfoo.so.1", d / "foo.c", "-Wl,-soname,libfoo.so.1")
    _cc(*shared, "-o", d / "libbar.so.1", d / "bar.c", "-Wl,-soname,libbar.so.1", f"-L{d}",
        "-l:libfoo.so.1")  # fmt: skip
    _cc("musl-gcc", "-o", d / "foo", d / "use_foo.c", f"-L{d}", "-l:libfoo.so.1")
    _cc("musl-gcc", "-o", d / "foo-rpath", d / "use_foo.c", f"-L{d}", "-l:libfoo.so.1",
        "-Wl,--disable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib")  # fmt: skip
    _cc("musl-gcc", "-o", d / "bar-runpath", d / "use_bar.c", f"-L{d}", "-l:libbar.so.1",
        f"-Wl,-rpath-link,{d}", "-Wl,--enable-new-dtags", "-Wl,-rpath,$ORIGIN/../lib")  # fmt: skip
    return Musl(d / "libfoo.so.1", d / "libbar.so.1", d / "foo", d / "foo-rpath", d / "bar-runpath")


@pytest.fixture
def root(tmp_path: Path, base_musl: Path) -> Path:
    dest = tmp_path / "root"
    shutil.copytree(base_musl, dest, symlinks=True, copy_function=os.link)
    return dest


def put(root: Path, path: str, source: Path) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def closure(root: Path, exe: str, *, ld_library_path: str | None = None) -> Closure:
    reader = ObjectReader(DirFileSystem(root))
    return Resolver(reader, ld_library_path=ld_library_path).closure(reader.read(exe))


def lookup_of(c: Closure, name: str) -> LibraryLookup:
    return next(lk for lk in c.lookups if lk.name == name)


def where(c: Closure, name: str) -> tuple[LookupStatus, SearchSource | None, str | None]:
    lookup = next(lk for lk in c.lookups if lk.name == name)
    path = posixpath.normpath(lookup.found.path) if lookup.found else None
    return lookup.status, lookup.source, path


@pytest.mark.parametrize(
    ("name", "reserved"),
    [
        ("libc.so", True),
        ("libc.so.6", True),
        ("libc.musl-x86_64.so.1", True),
        ("libpthread.so.0", True),
        ("libm.so.6", True),
        ("libdl.so.2", True),
        ("librt.so.1", True),
        ("libutil.so.1", True),
        ("libxnet.so", True),
        ("libcrypt.so.1", False),
        ("libmagic.so.1", False),
        ("libm", False),
        ("libfoo.so.1", False),
    ],
    ids=lambda v: str(v),
)
def test_reserved_names_are_musl_itself(name: str, reserved: bool) -> None:
    assert is_reserved(name) is reserved


@pytest.mark.parametrize(
    ("interp", "arch", "expected"),
    [
        ("/lib/ld-musl-x86_64.so.1", "x86_64", "/etc/ld-musl-x86_64.path"),
        ("/lib/ld-musl-aarch64.so.1", "aarch64", "/etc/ld-musl-aarch64.path"),
        (
            "/usr/local/musl/lib/ld-musl-x86_64.so.1",
            "x86_64",
            "/usr/local/musl/etc/ld-musl-x86_64.path",
        ),
        ("/lib64/ld-linux-x86-64.so.2", None, None),
    ],
    ids=["x86_64", "aarch64", "prefix", "glibc"],
)
def test_path_file_location(interp: str, arch: str | None, expected: str | None) -> None:
    assert (musl_arch(interp), path_file(interp)) == (arch, expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/a:/b\n/c\n", ("/a", "/b", "/c")),
        ("\n/a\n", ("/a",)),
        ("/a::/b", ("/a",)),  # path_open(): an empty element ends the list
        ("", ()),
    ],
    ids=["colon-newline", "leading", "empty-element", "empty"],
)
def test_split_musl_path(text: str, expected: tuple[str, ...]) -> None:
    assert split_musl_path(text) == expected


def test_libc_so_is_the_interpreter(root: Path, fixture_binaries: object) -> None:
    from tests.support.binaries import Binaries

    assert isinstance(fixture_binaries, Binaries)
    put(root, "/app", fixture_binaries.path("musl-dynamic"))
    c = closure(root, "/app")
    assert c.flavour is Libc.MUSL
    lookup = c.lookups[0]
    assert (lookup.name, lookup.status, lookup.source) == (
        "libc.so",
        LookupStatus.FOUND,
        SearchSource.INTERPRETER,
    )
    assert lookup.found is c.interpreter_object


def test_ld_library_path_comes_before_rpath(root: Path, musl: Musl) -> None:
    put(root, "/app/bin/prog", musl.foo_rpath)
    put(root, "/app/lib/libfoo.so.1", musl.libfoo)
    put(root, "/env/libfoo.so.1", musl.libfoo)
    c = closure(root, "/app/bin/prog", ld_library_path="/env")
    assert where(c, "libfoo.so.1") == (
        LookupStatus.FOUND,
        SearchSource.LD_LIBRARY_PATH,
        "/env/libfoo.so.1",
    )
    c = closure(root, "/app/bin/prog")
    assert where(c, "libfoo.so.1") == (
        LookupStatus.FOUND,
        SearchSource.RPATH,
        "/app/lib/libfoo.so.1",
    )


def test_runpath_is_inherited(root: Path, musl: Musl) -> None:
    put(root, "/app/bin/prog", musl.bar_runpath)
    put(root, "/app/lib/libbar.so.1", musl.libbar)
    put(root, "/app/lib/libfoo.so.1", musl.libfoo)
    c = closure(root, "/app/bin/prog")
    assert where(c, "libfoo.so.1") == (
        LookupStatus.FOUND,
        SearchSource.RUNPATH,
        "/app/lib/libfoo.so.1",
    )
    lookup = next(lk for lk in c.lookups if lk.name == "libfoo.so.1")
    assert lookup.searched[0].owner == "/app/bin/prog"
    # Oracle: the host's musl runs the same tree (glibc would not: RUNPATH is not inherited).
    ran = subprocess.run([root / "app/bin/prog"], capture_output=True, text=True, env={})
    assert (ran.returncode, ran.stdout) == (0, "bar says foo\n")


def test_path_file_replaces_the_default_path(root: Path, musl: Musl) -> None:
    put(root, "/app", musl.foo)
    put(root, "/usr/lib/libfoo.so.1", musl.libfoo)  # default dir: not searched now
    put(root, "/opt/y/lib/libfoo.so.1", musl.libfoo)
    (root / "etc/ld-musl-x86_64.path").write_text("/opt/x/lib\n/opt/y/lib\n")
    c = closure(root, "/app")
    assert where(c, "libfoo.so.1") == (
        LookupStatus.FOUND,
        SearchSource.PATH_FILE,
        "/opt/y/lib/libfoo.so.1",
    )
    assert [d.path for d in lookup_of(c, "libfoo.so.1").searched] == ["/opt/x/lib", "/opt/y/lib"]


def test_default_path_without_a_path_file(root: Path, musl: Musl) -> None:
    put(root, "/app", musl.foo)
    put(root, "/usr/local/lib/libfoo.so.1", musl.libfoo)
    c = closure(root, "/app")
    assert where(c, "libfoo.so.1") == (
        LookupStatus.FOUND,
        SearchSource.DEFAULT,
        "/usr/local/lib/libfoo.so.1",
    )
    assert [d.path for d in lookup_of(c, "libfoo.so.1").searched] == ["/lib", "/usr/local/lib"]


def test_not_found_lists_every_directory(root: Path, musl: Musl) -> None:
    put(root, "/app", musl.foo)
    c = closure(root, "/app", ld_library_path="/env")
    lookup = lookup_of(c, "libfoo.so.1")
    assert (lookup.name, lookup.status) == ("libfoo.so.1", LookupStatus.NOT_FOUND)
    assert [str(d) for d in lookup.searched] == [
        "/env (LD_LIBRARY_PATH)",
        "/lib (default)",
        "/usr/local/lib (default)",
        "/usr/lib (default)",
    ]


def test_first_file_that_opens_wins_whatever_its_class(
    root: Path, musl: Musl, tmp_path: Path
) -> None:
    arm = tmp_path / "libfoo.so.1"
    (tmp_path / "foo.c").write_text(FOO_C)
    _cc("aarch64-linux-gnu-gcc", "-shared", "-nostdlib", "-fPIC", "-o", arm, tmp_path / "foo.c")
    put(root, "/app", musl.foo)
    put(root, "/lib/libfoo.so.1", arm)
    put(root, "/usr/lib/libfoo.so.1", musl.libfoo)
    c = closure(root, "/app")
    assert where(c, "libfoo.so.1") == (LookupStatus.FOUND, SearchSource.DEFAULT, "/lib/libfoo.so.1")
    assert c.objects[1].info.arch == "arm64"  # reported by arch-mismatch
