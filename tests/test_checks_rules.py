"""Every rule on real binaries and real bases, and the oracle's verdict on the same trees.

Each case puts a fixture program into a copy of a base root (real Debian packages), runs
``analyze_rootfs`` and compares the findings with the exact expected rules. The ``oracle``
variant then *executes* the entrypoint in that root (unshare + chroot, qemu for arm64) and
asserts linkcheck's first error names what really happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from linkcheck.analysis import analyze_rootfs
from linkcheck.image import DirFileSystem
from linkcheck.model import ImageConfig, Platform, PlatformReport, Severity, Verdict
from tests.support.oracle import run_entrypoint

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.binaries import Binaries

ERR, WARN, INFO = Severity.ERROR, Severity.WARNING, Severity.INFO
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
REFINES = {"stale-ld-cache": "missing-library"}
GLIBC_ONLY_C = (
    "#include <stdio.h>\n#include <gnu/libc-version.h>\n"
    'int main(void) { printf("%s\\n", gnu_get_libc_version()); return 0; }\n'
)


def libc6_compat(root: Path, _b: Binaries) -> None:
    """What Alpine's libc6-compat adds: glibc's loader name pointing at musl."""
    (root / "lib64").mkdir(exist_ok=True)
    (root / "lib64/ld-linux-x86-64.so.2").symlink_to("/lib/ld-musl-x86_64.so.1")


def stub_glibc_231(root: Path, b: Binaries) -> None:
    shutil.copy2(b.root / "stub-glibc-2.31/libc.so.6", root / "lib/x86_64-linux-gnu/libc.so.6")


def libver_v1(root: Path, b: Binaries) -> None:
    shutil.copy2(b.root / "lib-ver1/libver.so.1", root / "usr/lib/libver.so.1")


def libfoo_dollar_origin(root: Path, b: Binaries) -> None:
    (root / "lib").mkdir(exist_ok=True)
    shutil.copy2(b.path("libfoo.so.1"), root / "lib/libfoo.so.1")


def truncated(root: Path, _b: Binaries) -> None:
    data = (root / "app").read_bytes()
    (root / "app").write_bytes(data[:200])


def glibc_only_symbol(root: Path, _b: Binaries) -> None:
    src = root.parent / "glibc_only.c"
    src.write_text(GLIBC_ONLY_C)
    subprocess.run(["gcc", "-o", str(root / "app"), str(src)], check=True, capture_output=True)
    libc6_compat(root, _b)


def musl_libfoo(where: str, path_file: str | None) -> Callable[[Path, Binaries], None]:
    """A musl program needing libfoo.so.1, libfoo in ``where``, and maybe a path file."""

    def setup(root: Path, _b: Binaries) -> None:
        src = root.parent / "src"
        src.mkdir(exist_ok=True)
        (src / "foo.c").write_text('const char *foo_name(void) { return "foo"; }\n')
        (src / "main.c").write_text(
            "#include <stdio.h>\nconst char *foo_name(void);\n"
            "int main(void) { puts(foo_name()); return 0; }\n"
        )
        lib = root / where.lstrip("/")
        lib.mkdir(parents=True, exist_ok=True)
        cc = ["musl-gcc", "-fPIC"]
        subprocess.run([*cc, "-shared", "-o", str(lib / "libfoo.so.1"), str(src / "foo.c"),
                        "-Wl,-soname,libfoo.so.1"], check=True, capture_output=True)  # fmt: skip
        subprocess.run([*cc, "-o", str(root / "app"), str(src / "main.c"), f"-L{lib}",
                        "-l:libfoo.so.1"], check=True, capture_output=True)  # fmt: skip
        if path_file is not None:
            (root / "etc/ld-musl-x86_64.path").write_text(path_file)

    return setup


@dataclass(frozen=True)
class Case:
    id: str
    base: str  # base_<name> fixture
    binary: str | None
    rules: tuple[tuple[str, Severity], ...]
    dest: str = "/app"
    mode: int = 0o755
    user: str = ""
    platform: str = "linux/amd64"
    setup: Callable[[Path, Binaries], None] | None = None
    entrypoint: tuple[str, ...] = ("/app",)
    env: tuple[str, ...] = field(default=(PATH_ENV,))
    oracle: bool = True


CASES = (
    Case("c-dynamic/glibc", "glibc", "c-dynamic", ()),
    Case("c-nopie/glibc", "glibc", "c-nopie", ()),
    Case("cxx/glibc", "glibc", "cxx-dynamic", ()),
    Case("go-static/static", "static", "go-static", ()),
    Case("go-cgo-static/static", "static", "go-cgo-static", ()),
    Case("go-cgo/glibc", "glibc", "go-cgo", ()),
    Case("musl/musl", "musl", "musl-dynamic", ()),
    Case("c-static/glibc", "glibc", "c-static", (("static-binary-on-libc-base", INFO),)),
    Case("c-static-pie/musl", "musl", "c-static-pie", (("static-binary-on-libc-base", INFO),)),
    Case("go-cgo/static", "static", "go-cgo", (("missing-interpreter", ERR),)),
    Case("go-pie/static", "static", "go-pie", (("missing-interpreter", ERR),)),
    Case("cxx/static", "static", "cxx-dynamic", (("missing-interpreter", ERR),)),
    Case("glibc-binary/musl", "musl", "c-dynamic", (("missing-interpreter", ERR),)),
    Case("musl-binary/glibc", "glibc", "musl-dynamic", (("missing-interpreter", ERR),)),
    Case("arm64/amd64", "glibc", "arm64-dynamic", (("arch-mismatch", ERR),)),
    Case("arm64-static/amd64", "static", "arm64-static", (("arch-mismatch", ERR),)),
    Case("arm64/arm64", "arm64_glibc", "arm64-dynamic", (), platform="linux/arm64"),
    Case("amd64/arm64", "arm64_glibc", "c-static", (("arch-mismatch", ERR),),
         platform="linux/arm64"),
    Case("go-386/amd64", "static", "go-386", (("arch-mismatch", WARN),)),
    Case("libfoo-missing/glibc", "glibc", "c-libfoo", (("missing-library", ERR),)),
    Case("cxx/musl-compat", "musl", "cxx-dynamic", (("missing-library", ERR),) * 2,
         setup=libc6_compat),
    Case("runpath/glibc", "glibc", "c-runpath", (), dest="/bin/app", entrypoint=("/bin/app",),
         setup=libfoo_dollar_origin),
    Case("nodeflib/glibc", "glibc", "c-nodeflib", (("missing-library", ERR),)),
    Case("stale-cache", "stale_ldcache", "c-libfoo", (("stale-ld-cache", ERR),)),
    Case("glibc-2.34/2.31", "glibc", "c-dynamic", (("symbol-version", ERR),),
         setup=stub_glibc_231),
    Case("libver-VER_2", "glibc", "c-ver2", (("symbol-version", ERR),), setup=libver_v1),
    Case("glibc-symbol/musl-compat", "musl", None, (("undefined-symbol", ERR),),
         setup=glibc_only_symbol),
    Case("hello/musl-compat", "musl", "c-dynamic", (), setup=libc6_compat),
    Case("musl-default-path", "musl", None, (), setup=musl_libfoo("/usr/local/lib", None)),
    Case("musl-path-file", "musl", None, (), setup=musl_libfoo("/opt/lib", "/opt/lib\n")),
    Case("musl-no-path-file", "musl", None, (("missing-library", ERR),),
         setup=musl_libfoo("/opt/lib", None)),
    Case("musl-path-file-replaces-default", "musl", None, (("missing-library", ERR),),
         setup=musl_libfoo("/usr/lib", "/opt/lib\n")),
    Case("no-x-bit", "glibc", "c-dynamic", (("not-executable", ERR),), mode=0o644),
    Case("not-for-nobody", "glibc", "c-dynamic", (("not-executable", ERR),), mode=0o700,
         user="nobody"),
    Case("for-nobody", "glibc", "c-dynamic", (), mode=0o755, user="nobody"),
    Case("unknown-user", "glibc", "c-dynamic", (("unknown-user", ERR),), user="ghost",
         oracle=False),
    Case("missing", "glibc", None, (("entrypoint-not-found", ERR),)),
    Case("not-in-path", "glibc", "c-dynamic", (("entrypoint-not-found", ERR),),
         entrypoint=("nothere",)),
    Case("in-path", "glibc", "c-dynamic", (), dest="/usr/local/bin/app", entrypoint=("app",)),
    Case("malformed", "glibc", "c-dynamic", (("malformed-elf", ERR),), setup=truncated),
    Case("script-sh/shell", "glibc_shell", "script-sh", ()),
    Case("script-env-bash/shell", "glibc_shell", "script-env-bash", ()),
    Case("script-env-bash/musl", "musl", "script-env-bash", (("missing-interpreter", ERR),)),
    Case("script-sh/musl", "musl", "script-sh", ()),
    Case("script-sh/static", "static", "script-sh", (("missing-interpreter", ERR),)),
    Case("script-crlf", "glibc_shell", "script-crlf", (("missing-interpreter", ERR),)),
    Case("script-no-shebang", "glibc_shell", "script-no-shebang", (("not-executable", ERR),)),
)  # fmt: skip


def make_root(case: Case, request: pytest.FixtureRequest, tmp_path: Path, b: Binaries) -> Path:
    base: Path = request.getfixturevalue(f"base_{case.base}")
    root = tmp_path / "root"
    shutil.copytree(base, root, symlinks=True, copy_function=shutil.copy2)
    if case.binary is not None:
        target = root / case.dest.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink() or target.exists():
            target.unlink()
        shutil.copy2(b.path(case.binary), target)
    if case.setup is not None:
        case.setup(root, b)
    if case.binary is not None or case.setup is not None:
        app = root / case.dest.lstrip("/")
        if app.exists():
            app.chmod(case.mode)
    return root


def analyse(case: Case, root: Path) -> PlatformReport:
    cfg = ImageConfig(Platform.parse(case.platform), case.entrypoint, None, case.env, "", case.user)
    return analyze_rootfs(DirFileSystem(root), cfg)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rule(
    case: Case, request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    report = analyse(case, make_root(case, request, tmp_path, fixture_binaries))
    assert tuple((f.rule, f.severity) for f in report.findings) == case.rules
    errors = any(sev is ERR for _, sev in case.rules)
    warnings = any(sev is WARN for _, sev in case.rules)
    expected = Verdict.FAIL if errors else Verdict.WARN if warnings else Verdict.PASS
    assert report.verdict is expected


@pytest.mark.oracle
@pytest.mark.parametrize("case", [c for c in CASES if c.oracle], ids=lambda c: c.id)
def test_rule_agrees_with_running_it(
    case: Case,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    fixture_binaries: Binaries,
    oracle_host: None,
) -> None:
    root = make_root(case, request, tmp_path, fixture_binaries)
    report = analyse(case, root)
    arch = Platform.parse(case.platform).architecture
    real = run_entrypoint(root, case.entrypoint, env=case.env, user=case.user, arch=arch)
    first_error = next((f.rule for f in report.findings if f.severity is ERR), None)
    real_rule = real.rule
    if "Invalid ELF image for this architecture" in real.stderr:
        real_rule = "exec-format-error"  # qemu-user's words for the kernel's ENOEXEC
    if real_rule == "exec-format-error":  # ENOEXEC: the kernel refused the file's format
        assert first_error in ("arch-mismatch", "not-executable", "malformed-elf"), real
    else:
        # stale-ld-cache is a missing library whose cause linkcheck also knows
        assert REFINES.get(first_error or "", first_error) == real_rule, real


# -- exact wording of the messages users act on ---------------------------------------------


def _report(
    request: pytest.FixtureRequest, tmp_path: Path, b: Binaries, case_id: str
) -> PlatformReport:
    case = next(c for c in CASES if c.id == case_id)
    return analyse(case, make_root(case, request, tmp_path, b))


def test_cgo_on_static_base_says_how_to_fix_it(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    (finding,) = _report(request, tmp_path, fixture_binaries, "go-cgo/static").findings
    assert finding.path == "/app"
    assert finding.message == (
        "/app is dynamically linked, and its loader (glibc) /lib64/ld-linux-x86-64.so.2 is not "
        "in the image: exec fails with 'no such file or directory'"
    )
    assert finding.hint == (
        "rebuild with CGO_ENABLED=0, or use a glibc-dynamic base "
        "(gcr.io/distroless/base-debian12, cgr.dev/chainguard/glibc-dynamic)"
    )
    detail = finding.detail_dict()
    assert (detail["cgo_enabled"], detail["wants_libc"], detail["base_libc"]) == (
        True,
        "glibc",
        "none",
    )


def test_go_pie_without_cgo_says_drop_pie(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    # CGO_ENABLED=0 is no fix for a Go PIE: it already has it and still needs the loader.
    (finding,) = _report(request, tmp_path, fixture_binaries, "go-pie/static").findings
    assert finding.rule == "missing-interpreter"
    assert finding.hint == (
        "this Go binary is a PIE (-buildmode=pie), which needs the dynamic loader even with "
        "CGO_ENABLED=0: drop -buildmode=pie for a static binary, or use a glibc base "
        "(gcr.io/distroless/base-debian12, cgr.dev/chainguard/glibc-dynamic)"
    )


def test_glibc_2_34_on_2_31(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    (finding,) = _report(request, tmp_path, fixture_binaries, "glibc-2.34/2.31").findings
    assert finding.message == (
        "/lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by /app); "
        "it provides up to GLIBC_2.31; needed by __libc_start_main"
    )
    detail = finding.detail_dict()
    assert detail["needed_versions"] == ("GLIBC_2.34",)
    assert detail["symbols"] == ("__libc_start_main",)
    assert detail["highest_available"] == "GLIBC_2.31"


def test_crlf_script_message(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    (finding,) = _report(request, tmp_path, fixture_binaries, "script-crlf").findings
    assert finding.message == (
        "/app: the #! line ends with a carriage return (CRLF line endings), so the interpreter "
        "looked up is '/bin/sh\\r'"
    )
    assert finding.detail_dict()["crlf"] is True


def test_missing_library_lists_where_it_looked(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    (finding,) = _report(request, tmp_path, fixture_binaries, "libfoo-missing/glibc").findings
    assert finding.message == (
        "libfoo.so.1 (needed by /app) is not found: error while loading shared libraries: "
        "libfoo.so.1: cannot open shared object file"
    )
    assert finding.detail_dict()["searched"] == (
        "/etc/ld.so.cache (ld.so.cache)",
        "/lib/x86_64-linux-gnu (default)",
        "/usr/lib/x86_64-linux-gnu (default)",
        "/lib (default)",
        "/usr/lib (default)",
    )


def test_undefined_symbol_names_the_symbol(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    report = _report(request, tmp_path, fixture_binaries, "glibc-symbol/musl-compat")
    (finding,) = report.findings
    assert finding.detail_dict()["symbols"] == ("gnu_get_libc_version",)
    assert "Error relocating /app: gnu_get_libc_version: symbol not found" in finding.message


def test_base_is_characterised(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    glibc = _report(request, tmp_path / "g", fixture_binaries, "c-dynamic/glibc").base
    assert (glibc.libc.value, glibc.libc_version, glibc.interpreters) == (
        "glibc",
        "2.36",
        ("/lib64/ld-linux-x86-64.so.2",),
    )
    assert {"libc.so.6", "libstdc++.so.6", "libgcc_s.so.1"} <= set(glibc.sonames)
    musl = _report(request, tmp_path / "m", fixture_binaries, "musl/musl").base
    assert (musl.libc.value, musl.libc_version, musl.interpreters) == (
        "musl",
        "1.2.3",
        ("/lib/ld-musl-x86_64.so.1",),
    )
    static = _report(request, tmp_path / "s", fixture_binaries, "go-static/static").base
    assert (static.libc.value, static.libc_version, static.interpreters) == ("none", None, ())


def test_scan_all_checks_other_files_as_warnings(
    base_glibc_shell: Path, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    root = tmp_path / "root"
    shutil.copytree(base_glibc_shell, root, symlinks=True, copy_function=os.link)
    shutil.copy2(fixture_binaries.path("c-dynamic"), root / "app")
    shutil.copy2(fixture_binaries.path("c-libfoo"), root / "usr/bin/tool")
    data = fixture_binaries.path("libfoo.so.1").read_bytes()
    (root / "usr/lib/libbroken.so.1").write_bytes(data[:200])
    cfg = ImageConfig(Platform("linux", "amd64"), ("/app",), None, (PATH_ENV,), "", "")
    quick = analyze_rootfs(DirFileSystem(root), cfg)
    assert (quick.verdict, quick.findings, quick.scanned) == (Verdict.PASS, (), 0)
    full = analyze_rootfs(DirFileSystem(root), cfg, scan_all=True)
    assert full.verdict is Verdict.WARN
    assert full.scanned > 20
    assert [(f.rule, f.severity, f.path) for f in full.findings] == [
        ("malformed-elf", WARN, "/usr/lib/libbroken.so.1"),
        ("missing-library", WARN, "/usr/bin/tool"),
    ]
    assert [f.detail_dict()["scope"] for f in full.findings] == ["scan-all", "scan-all"]


def test_symlink_loop_entrypoint_is_a_finding(base_static: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    shutil.copytree(base_static, root, symlinks=True)
    (root / "app").symlink_to("loop")
    (root / "loop").symlink_to("app")
    cfg = ImageConfig(Platform("linux", "amd64"), ("/app",), None, (PATH_ENV,), "", "")
    (finding,) = analyze_rootfs(DirFileSystem(root), cfg).findings
    assert (finding.rule, finding.message) == (
        "entrypoint-not-found",
        "the entrypoint /app cannot be looked up: symlink loop",
    )
    assert finding.detail_dict()["hops"] == ("/app -> loop", "/loop -> app")


def test_scan_all_checks_a_library_in_the_context_of_its_program(
    base_glibc: Path, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    """The program finds libfoo through its own RUNPATH: checked in that context, fine. A
    plugin no program loads, needing libfoo, is checked alone: only information."""
    root = tmp_path / "root"
    shutil.copytree(base_glibc, root, symlinks=True, copy_function=os.link)
    (root / "opt/app/bin").mkdir(parents=True)
    (root / "opt/app/lib").mkdir(parents=True)
    (root / "opt/plugins").mkdir(parents=True)
    shutil.copy2(fixture_binaries.path("c-runpath"), root / "opt/app/bin/app")
    libfoo = fixture_binaries.path("libfoo.so.1")
    shutil.copy2(libfoo, root / "opt/app/lib/libfoo.so.1")
    src = tmp_path / "plugin.c"
    src.write_text("const char *foo_name(void);\nconst char *p(void) { return foo_name(); }\n")
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(root / "opt/plugins/plugin.so"), str(src),
         f"-L{libfoo.parent}", "-l:libfoo.so.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    cfg = ImageConfig(Platform("linux", "amd64"), ("/opt/app/bin/app",), None, (PATH_ENV,), "", "")
    report = analyze_rootfs(DirFileSystem(root), cfg, scan_all=True)
    assert [(f.rule, f.severity, f.path) for f in report.findings] == [
        ("missing-library", INFO, "/opt/plugins/plugin.so"),
    ]
    assert report.verdict is Verdict.PASS


def test_unknown_user_detail_names_the_user(
    request: pytest.FixtureRequest, tmp_path: Path, fixture_binaries: Binaries
) -> None:
    (finding,) = _report(request, tmp_path, fixture_binaries, "unknown-user").findings
    assert finding.message == (
        "runc cannot start the container: unable to find user ghost: no matching entries in "
        "passwd file"
    )
    assert finding.detail_dict() == {"user": "ghost"}
