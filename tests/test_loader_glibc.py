"""glibc search order on real file layouts, with the host's own ld.so as the oracle.

Every layout is a copy of the Debian glibc base (``base_glibc``) plus files compiled here or by
``tests.support.binaries``. Library paths inside the layouts are ``$ORIGIN``-relative, so the
same tree gives the same answer seen as an image root (linkcheck) and under ``tmp_path`` on
the host (``ld.so --list`` / running the program, only on files these tests compiled).
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
from linkcheck.loader.glibc import (
    GlibcLayout,
    detect_layout,
    expand_dst,
    parse_ld_so_conf,
    split_search_path,
)
from linkcheck.loader.objects import ObjectReader
from linkcheck.loader.resolver import Closure, Resolver
from linkcheck.loader.types import Candidate, CandidateVerdict, LookupStatus, SearchSource
from linkcheck.model import Libc
from tests.support.bases import run_ldconfig

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.binaries import Binaries

HOST_LD_SO = "/lib64/ld-linux-x86-64.so.2"
DEBIAN_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib")
LAYOUT = GlibcLayout(DEBIAN_DIRS, "lib/x86_64-linux-gnu", "x86_64", (), "test")

FOO_C = 'const char *foo_name(void) { return "foo"; }\n'
BAR_C = "const char *foo_name(void);\nconst char *bar_name(void) { return foo_name(); }\n"
USE_BAR_C = (
    "#include <stdio.h>\nconst char *bar_name(void);\n"
    'int main(void) { printf("bar says %s\\n", bar_name()); return 0; }\n'
)


@dataclass(frozen=True)
class Extra:
    """Libraries and programs compiled for these tests only."""

    foo32: Path  # libfoo.so.1, ELFCLASS32 (i386)
    foo_arm64: Path  # libfoo.so.1, aarch64
    libbar: Path  # libbar.so.1, needs libfoo.so.1, no RPATH/RUNPATH
    bar_rpath: Path  # needs libbar.so.1, DT_RPATH $ORIGIN/../lib
    bar_runpath: Path  # needs libbar.so.1, DT_RUNPATH $ORIGIN/../lib


def _cc(*argv: str | Path) -> None:
    subprocess.run([str(a) for a in argv], check=True, capture_output=True)


@pytest.fixture(scope="module")
def extra(tmp_path_factory: pytest.TempPathFactory, fixture_binaries: Binaries) -> Extra:
    d = tmp_path_factory.mktemp("glibc-extra")
    for name, text in (("foo.c", FOO_C), ("bar.c", BAR_C), ("use_bar.c", USE_BAR_C)):
        (d / name).write_text(text)
    (d / "i386").mkdir()
    (d / "arm64").mkdir()
    soname = "-Wl,-soname,libfoo.so.1"
    _cc("gcc", "-m32", "-shared", "-nostdlib", "-fPIC", "-o", d / "i386/libfoo.so.1", d / "foo.c",
        soname)  # fmt: skip
    _cc("aarch64-linux-gnu-gcc", "-shared", "-nostdlib", "-fPIC", "-o", d / "arm64/libfoo.so.1",
        d / "foo.c", soname)  # fmt: skip
    libfoo_dir = fixture_binaries.path("libfoo.so.1").parent
    _cc("gcc", "-shared", "-fPIC", "-o", d / "libbar.so.1", d / "bar.c", "-Wl,-soname,libbar.so.1",
        f"-L{libfoo_dir}", "-l:libfoo.so.1")  # fmt: skip
    for name, tags in (("bar-rpath", "--disable-new-dtags"), ("bar-runpath", "--enable-new-dtags")):
        _cc("gcc", "-o", d / name, d / "use_bar.c", f"-L{d}", "-l:libbar.so.1",
            f"-Wl,-rpath-link,{libfoo_dir}", f"-Wl,{tags}",
            "-Wl,-rpath,$ORIGIN/../lib")  # fmt: skip
    return Extra(
        d / "i386/libfoo.so.1", d / "arm64/libfoo.so.1", d / "libbar.so.1",
        d / "bar-rpath", d / "bar-runpath",
    )  # fmt: skip


@pytest.fixture
def root(tmp_path: Path, base_glibc: Path) -> Path:
    """A private copy of the glibc base (hard links: cheap, and the base stays untouched)."""
    dest = tmp_path / "root"
    shutil.copytree(base_glibc, dest, symlinks=True, copy_function=os.link)
    return dest


def put(root: Path, path: str, source: Path) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    return target


def closure(root: Path, exe: str, *, ld_library_path: str | None = None) -> Closure:
    reader = ObjectReader(DirFileSystem(root))
    return Resolver(reader, ld_library_path=ld_library_path).closure(reader.read(exe))


def found(c: Closure) -> dict[str, str | None]:
    """DT_NEEDED name -> normalized path the loader opened (None: not found)."""
    out: dict[str, str | None] = {}
    for lookup in c.lookups:
        path = lookup.found.path if lookup.found else None
        out.setdefault(lookup.name, posixpath.normpath(path) if path else None)
    return out


def host_list(root: Path, exe: str, *, library_path: str | None = None) -> dict[str, str | None]:
    """The host ld.so's answer for a file these tests compiled: name -> in-root path."""
    argv = [HOST_LD_SO]
    if library_path is not None:
        argv += ["--library-path", ":".join(str(root) + d for d in library_path.split(":"))]
    # LD_TRACE_LOADED_OBJECTS (what ldd sets) also lists "not found"; --list stops at it.
    env = {"LD_TRACE_LOADED_OBJECTS": "1"}
    run = subprocess.run([*argv, str(root) + exe], capture_output=True, text=True, env=env)
    out: dict[str, str | None] = {}
    for line in run.stdout.splitlines():
        name, sep, rest = line.strip().partition(" => ")
        if not sep:
            continue
        path = rest.rsplit(" (", 1)[0].strip()
        if path == "not found":
            out[name] = None
        else:
            path = os.path.normpath(path)
            out[name] = path[len(str(root)) :] if path.startswith(str(root)) else path
    return out


# -- pure functions ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("element", "origin", "expected"),
    [
        ("$ORIGIN/../lib", "/app/bin", "/app/bin/../lib"),
        ("${ORIGIN}/lib", "/app", "/app/lib"),
        ("/opt/$LIB", "/app", "/opt/lib/x86_64-linux-gnu"),
        ("/opt/${PLATFORM}/lib", "/app", "/opt/x86_64/lib"),
        ("$ORIGINAL/lib", "/app", "$ORIGINAL/lib"),  # not a DST: a name character follows
        ("/opt/$FOO", "/app", "/opt/$FOO"),  # unknown DSTs stay literal (dl-load.c)
        ("$ORIGIN/lib", None, None),  # no origin: glibc drops the element
    ],
    ids=["origin", "braced", "lib", "platform", "origin-prefix", "unknown", "no-origin"],
)
def test_expand_dst(element: str, origin: str | None, expected: str | None) -> None:
    assert expand_dst(element, origin=origin, layout=LAYOUT) == expected


def test_split_search_path_is_fillin_rpath() -> None:
    elements = ["", "lib", "/opt//x/", "/opt/x", "$ORIGIN"]
    assert split_search_path(elements, origin="/app", layout=LAYOUT, cwd="/work") == (
        "/work",
        "/work/lib",
        "/opt/x",
        "/app",
    )


def test_default_dirs_are_read_from_the_image_ld_so(base_glibc: Path) -> None:
    fs = DirFileSystem(base_glibc)
    layout = detect_layout(fs.read_bytes("/lib64/ld-linux-x86-64.so.2"), "amd64", fs)
    assert layout == GlibcLayout(
        DEBIAN_DIRS,
        "lib/x86_64-linux-gnu",
        "x86_64",
        ("x86-64-v4", "x86-64-v3", "x86-64-v2"),
        "read from ld.so",
    )


def test_default_dirs_of_the_arm64_ld_so(base_arm64_glibc: Path) -> None:
    fs = DirFileSystem(base_arm64_glibc)
    layout = detect_layout(fs.read_bytes("/lib/ld-linux-aarch64.so.1"), "arm64", fs)
    assert layout.system_dirs == (
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib",
        "/usr/lib",
    )
    assert (layout.lib, layout.platform, layout.hwcaps) == ("lib/aarch64-linux-gnu", "aarch64", ())


@pytest.mark.parametrize(
    ("dirs", "expected"),
    [
        (("lib/x86_64-linux-gnu",), (*DEBIAN_DIRS, "multiarch directory present")),
        (("lib64",), ("/lib64", "/usr/lib64", "upstream default")),
    ],
    ids=["debian", "fedora"],
)
def test_default_dirs_without_a_readable_ld_so(
    tmp_path: Path, dirs: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    for d in dirs:
        (tmp_path / d).mkdir(parents=True)
    layout = detect_layout(None, "amd64", DirFileSystem(tmp_path))
    assert (*layout.system_dirs, layout.how) == expected


def test_ld_so_conf_includes(base_glibc: Path) -> None:
    # /etc/ld.so.conf: "include /etc/ld.so.conf.d/*.conf" (libc6's x86_64-linux-gnu.conf)
    assert parse_ld_so_conf(DirFileSystem(base_glibc)) == (
        "/usr/local/lib/x86_64-linux-gnu",
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
    )


# -- search order on real layouts, against the host ld.so --------------------------------


def test_breadth_first_load_order_matches_ld_so(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app", fixture_binaries.path("cxx-dynamic"))
    c = closure(root, "/app")
    assert [o.searched_as for o in c.objects] == [
        None,
        "libstdc++.so.6",
        "libgcc_s.so.1",
        "libc.so.6",
        "libm.so.6",
    ]
    oracle = [n for n in host_list(root, "/app") if n != "linux-vdso.so.1"]
    assert [o.searched_as for o in c.objects[1:]] == oracle
    # libc.so.6 needs ld-linux-x86-64.so.2: the interpreter, matched by soname, not searched
    ld = next(lk for lk in c.lookups if lk.name == "ld-linux-x86-64.so.2")
    assert (ld.status, ld.source, ld.searched) == (LookupStatus.FOUND, SearchSource.INTERPRETER, ())


@pytest.mark.parametrize(
    ("binary", "expected", "source"),
    [
        ("c-rpath", "/app/lib/libfoo.so.1", SearchSource.RPATH),
        ("c-runpath", "/env/libfoo.so.1", SearchSource.LD_LIBRARY_PATH),
    ],
    ids=["rpath-before-ld-library-path", "ld-library-path-before-runpath"],
)
def test_rpath_runpath_and_ld_library_path_order(
    root: Path, fixture_binaries: Binaries, binary: str, expected: str, source: SearchSource
) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path(binary))
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    put(root, "/env/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    c = closure(root, "/app/bin/prog", ld_library_path="/env")
    assert found(c)["libfoo.so.1"] == expected
    assert c.lookups[0].source is source
    assert host_list(root, "/app/bin/prog", library_path="/env")["libfoo.so.1"] == expected


@pytest.mark.parametrize(
    ("program", "libfoo"),
    [("bar_rpath", "/app/lib/libfoo.so.1"), ("bar_runpath", None)],
    ids=["rpath-inherited", "runpath-not-inherited"],
)
def test_rpath_of_the_executable_is_inherited_runpath_is_not(
    root: Path, extra: Extra, fixture_binaries: Binaries, program: str, libfoo: str | None
) -> None:
    put(root, "/app/bin/prog", getattr(extra, program))
    put(root, "/app/lib/libbar.so.1", extra.libbar)
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    c = closure(root, "/app/bin/prog")
    assert found(c)["libbar.so.1"] == "/app/lib/libbar.so.1"
    assert found(c)["libfoo.so.1"] == libfoo
    assert host_list(root, "/app/bin/prog")["libfoo.so.1"] == libfoo
    lookup = next(lk for lk in c.lookups if lk.name == "libfoo.so.1")
    if libfoo is not None:
        assert (lookup.source, lookup.searched[0].owner) == (SearchSource.RPATH, "/app/bin/prog")
    else:
        assert lookup.status is LookupStatus.NOT_FOUND
        assert [str(d) for d in lookup.searched] == [
            "/etc/ld.so.cache (ld.so.cache)",
            *(f"{d} (default)" for d in DEBIAN_DIRS),
        ]


def test_origin_of_a_symlinked_executable_is_its_real_directory(
    root: Path, fixture_binaries: Binaries
) -> None:
    put(root, "/opt/app/bin/c-runpath", fixture_binaries.path("c-runpath"))
    put(root, "/opt/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    link = root / "usr/local/bin/app"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to("../../../opt/app/bin/c-runpath")
    c = closure(root, "/usr/local/bin/app")
    assert found(c)["libfoo.so.1"] == "/opt/app/lib/libfoo.so.1"
    assert c.executable.hops == ("/usr/local/bin/app -> ../../../opt/app/bin/c-runpath",)
    # Oracle: run it through the symlink; glibc takes $ORIGIN from /proc/self/exe.
    ran = subprocess.run([link], capture_output=True, text=True, env={})
    assert (ran.returncode, ran.stdout) == (0, "hello from c-runpath via foo\n")


def test_glibc_hwcaps_subdirectory_is_tried_first(root: Path, fixture_binaries: Binaries) -> None:
    help_text = subprocess.run([HOST_LD_SO, "--help"], capture_output=True, text=True).stdout
    put(root, "/app/bin/prog", fixture_binaries.path("c-runpath"))
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    put(root, "/app/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    expected = "/app/lib/glibc-hwcaps/x86-64-v2/libfoo.so.1"
    assert found(closure(root, "/app/bin/prog"))["libfoo.so.1"] == expected
    if "x86-64-v2 (supported, searched)" in help_text:
        assert host_list(root, "/app/bin/prog")["libfoo.so.1"] == expected


@pytest.mark.parametrize(
    ("wrong", "verdict", "detail"),
    [
        ("foo32", CandidateVerdict.WRONG_CLASS, "ELFCLASS32"),
        ("foo_arm64", CandidateVerdict.WRONG_MACHINE, "arm64"),
    ],
    ids=["elfclass32", "aarch64"],
)
def test_wrong_class_or_machine_candidate_is_skipped(
    root: Path,
    extra: Extra,
    fixture_binaries: Binaries,
    wrong: str,
    verdict: CandidateVerdict,
    detail: str,
) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path("c-runpath"))
    put(root, "/other/libfoo.so.1", getattr(extra, wrong))  # first: LD_LIBRARY_PATH
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))  # then RUNPATH
    c = closure(root, "/app/bin/prog", ld_library_path="/other")
    lookup = c.lookups[0]
    assert (lookup.status, posixpath.normpath(lookup.found.path if lookup.found else "")) == (
        LookupStatus.FOUND,
        "/app/lib/libfoo.so.1",
    )
    assert lookup.rejected == (Candidate("/other/libfoo.so.1", verdict, detail),)
    oracle = host_list(root, "/app/bin/prog", library_path="/other")
    assert oracle["libfoo.so.1"] == "/app/lib/libfoo.so.1"


def test_only_wrong_class_candidates_is_not_found(
    root: Path, extra: Extra, fixture_binaries: Binaries
) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path("c-runpath"))
    put(root, "/app/lib/libfoo.so.1", extra.foo32)
    lookup = closure(root, "/app/bin/prog").lookups[0]
    assert (lookup.status, lookup.found) == (LookupStatus.WRONG_CLASS_ONLY, None)
    assert lookup.rejected == (
        Candidate("/app/bin/../lib/libfoo.so.1", CandidateVerdict.WRONG_CLASS, "ELFCLASS32"),
    )
    assert host_list(root, "/app/bin/prog")["libfoo.so.1"] is None


def test_nodeflib_skips_cache_and_default_dirs(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app", fixture_binaries.path("c-nodeflib"))
    lookup = closure(root, "/app").lookups[0]
    assert (lookup.name, lookup.status) == ("libc.so.6", LookupStatus.NOT_FOUND)
    assert [d.source for d in lookup.searched] == [SearchSource.LD_CACHE]
    assert lookup.note is not None and "DF_1_NODEFLIB" in lookup.note
    assert host_list(root, "/app")["libc.so.6"] is None


def test_nodeflib_with_runpath_finds_its_own_copies(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path("c-nodeflib-runpath"))
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    put(root, "/app/lib/libc.so.6", root / "lib/x86_64-linux-gnu/libc.so.6")
    got = found(closure(root, "/app/bin/prog"))
    assert got == {
        "libfoo.so.1": "/app/lib/libfoo.so.1",
        "libc.so.6": "/app/lib/libc.so.6",
        "ld-linux-x86-64.so.2": "/lib64/ld-linux-x86-64.so.2",
    }
    oracle = host_list(root, "/app/bin/prog")
    assert (oracle["libfoo.so.1"], oracle["libc.so.6"]) == (got["libfoo.so.1"], got["libc.so.6"])


def test_ld_so_cache_of_the_image_is_used(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app", fixture_binaries.path("c-libfoo"))
    put(root, "/opt/foo/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    (root / "etc/ld.so.conf.d/foo.conf").write_text("/opt/foo/lib\n")
    run_ldconfig(root)
    lookup = closure(root, "/app").lookups[0]
    assert (lookup.status, lookup.source) == (LookupStatus.FOUND, SearchSource.LD_CACHE)
    assert lookup.found is not None and lookup.found.path == "/opt/foo/lib/libfoo.so.1"


def test_library_only_in_ld_so_conf_is_a_stale_cache(
    base_stale_ldcache: Path, fixture_binaries: Binaries, tmp_path: Path
) -> None:
    root = tmp_path / "root"
    shutil.copytree(base_stale_ldcache, root, symlinks=True, copy_function=os.link)
    put(root, "/app", fixture_binaries.path("c-libfoo"))
    lookup = closure(root, "/app").lookups[0]
    assert (lookup.status, lookup.note, lookup.found) == (
        LookupStatus.STALE_CACHE,
        "/opt/app/lib",
        None,
    )


def test_ld_library_path_comes_from_the_config_never_the_host(
    root: Path, fixture_binaries: Binaries, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(root, "/app", fixture_binaries.path("c-libfoo"))
    put(root, "/opt/foo/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/foo")
    assert found(closure(root, "/app"))["libfoo.so.1"] is None
    assert found(closure(root, "/app", ld_library_path="/opt/foo"))["libfoo.so.1"] == (
        "/opt/foo/libfoo.so.1"
    )


def test_flavour_and_interpreter(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app", fixture_binaries.path("c-dynamic"))
    c = closure(root, "/app")
    assert c.flavour is Libc.GLIBC
    assert c.interpreter_object is not None
    assert (c.interpreter_object.path, c.interpreter_object.real_path) == (
        "/lib64/ld-linux-x86-64.so.2",
        "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
    )


def test_origin_in_ld_library_path_is_the_executables_directory(
    root: Path, fixture_binaries: Binaries
) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path("c-libfoo"))
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    c = closure(root, "/app/bin/prog", ld_library_path="$ORIGIN/../lib")
    assert found(c)["libfoo.so.1"] == "/app/lib/libfoo.so.1"
    ran = subprocess.run(
        [root / "app/bin/prog"],
        capture_output=True,
        text=True,
        env={"LD_LIBRARY_PATH": "$ORIGIN/../lib"},
    )
    assert (ran.returncode, ran.stdout) == (0, "hello from c-libfoo via foo\n")


def test_a_non_elf_candidate_stops_the_search(root: Path, fixture_binaries: Binaries) -> None:
    put(root, "/app/bin/prog", fixture_binaries.path("c-runpath"))
    put(root, "/app/lib/libfoo.so.1", fixture_binaries.path("libfoo.so.1"))
    (root / "other").mkdir()
    (root / "other/libfoo.so.1").write_text("not an ELF file, whatever its name says\n" * 4)
    lookup = closure(root, "/app/bin/prog", ld_library_path="/other").lookups[0]
    assert (lookup.status, lookup.found) == (LookupStatus.INVALID, None)
    assert lookup.rejected == (Candidate("/other/libfoo.so.1", CandidateVerdict.NOT_ELF, "other"),)
    # Oracle: glibc gives up there, although RUNPATH has a good copy.
    env = {"LD_LIBRARY_PATH": f"{root}/other"}
    ran = subprocess.run([root / "app/bin/prog"], capture_output=True, text=True, env=env)
    assert ran.returncode == 127
    assert ran.stderr.endswith("/other/libfoo.so.1: invalid ELF header\n")
