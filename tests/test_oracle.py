"""The ground truth: linkcheck's verdict against what really happens when the entrypoint runs.

Each case assembles an image from a base made of real Debian packages and real fixture
binaries (tests/support), writes it with the project's builder as an OCI layout, and then:

1. asks ``linkcheck.analyze`` for its verdict and the rule of its first error;
2. unpacks the same image with Debian's ``umoci`` (not with linkcheck) and actually executes
   the entrypoint in it (tests/support/oracle.py: unshare + chroot with /proc, qemu-user for
   arm64), classifying what the kernel and the image's own loader said.

Both must agree with the case's expectation, and so with each other. This is the project's
ground truth; it runs in CI as root and never skips.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from linkcheck import analyze
from linkcheck.model import Severity
from tests.support.imagebuilder import ImageSpec, Layer, write_image
from tests.support.oracle import DEFAULT_PATH, run_entrypoint

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.binaries import Binaries

pytestmark = pytest.mark.oracle

# What the oracle can tell apart: ENOEXEC is both "no #!" and "wrong machine"; the loader's
# "cannot open shared object file" is also what a stale ld.so.cache looks like at run time.
SAME_AT_RUN_TIME = {
    "arch-mismatch": "exec-format-error",
    "stale-ld-cache": "missing-library",
}
# "sh -c app" prints "app: not found" for ENOENT, whether app or its interpreter is missing.
SHELL_SAYS_NOT_FOUND = {"entrypoint-not-found", "missing-interpreter"}

GLIBC_LIB = "/lib/x86_64-linux-gnu"


@dataclass(frozen=True)
class Case:
    id: str
    base: str  # "glibc", "glibc_shell", "musl", "static", "arm64_glibc", "stale_ldcache"
    entrypoint: tuple[str, ...]
    expect: str | None  # the rule of linkcheck's first error; None = it starts
    files: tuple[tuple[str, str, int], ...] = ()  # (path in image, fixture name, mode)
    symlinks: tuple[tuple[str, str], ...] = ()
    whiteouts: tuple[str, ...] = ()
    dirs: tuple[str, ...] = ()
    env: tuple[str, ...] = ()
    user: str = ""
    platform: str = "linux/amd64"
    extra: dict[str, str] = field(default_factory=dict)


def app(name: str, path: str = "/app", mode: int = 0o755) -> tuple[tuple[str, str, int], ...]:
    return ((path, name, mode),)


CASES = (
    # Go: the headline
    Case("go-static-on-static", "static", ("/app",), None, app("go-static")),
    Case("go-cgo-on-static", "static", ("/app",), "missing-interpreter", app("go-cgo")),
    Case("go-cgo-on-glibc", "glibc", ("/app",), None, app("go-cgo")),
    Case("go-cgo-static-on-static", "static", ("/app",), None, app("go-cgo-static")),
    Case("go-pie-on-static", "static", ("/app",), "missing-interpreter", app("go-pie")),
    Case("go-pie-on-glibc", "glibc", ("/app",), None, app("go-pie")),
    # C, static and dynamic, glibc and musl
    Case("c-dynamic-on-glibc", "glibc", ("/app",), None, app("c-dynamic")),
    Case("c-nopie-on-glibc", "glibc", ("/app",), None, app("c-nopie")),
    Case("c-static-on-static", "static", ("/app",), None, app("c-static")),
    Case("c-static-pie-on-static", "static", ("/app",), None, app("c-static-pie")),
    Case("c-dynamic-on-static", "static", ("/app",), "missing-interpreter", app("c-dynamic")),
    Case("glibc-on-musl", "musl", ("/app",), "missing-interpreter", app("c-dynamic")),
    Case("musl-on-glibc", "glibc", ("/app",), "missing-interpreter", app("musl-dynamic")),
    Case("musl-on-musl", "musl", ("/app",), None, app("musl-dynamic")),
    Case("musl-static-on-static", "static", ("/app",), None, app("musl-static")),
    Case("cxx-on-glibc", "glibc", ("/app",), None, app("cxx-dynamic")),
    Case(
        "cxx-libstdcxx-whited-out", "glibc", ("/app",), "missing-library", app("cxx-dynamic"),
        whiteouts=("/usr/lib/x86_64-linux-gnu/libstdc++.so.6",
                   "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30"),
    ),
    # library search
    Case("libfoo-absent", "glibc", ("/app",), "missing-library", app("c-libfoo")),
    Case(
        "libfoo-in-default-dir-not-in-cache", "glibc", ("/app",), None,
        (*app("c-libfoo"), ("/usr/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
    ),
    Case(
        "libfoo-in-usr-local-lib", "glibc", ("/app",), "missing-library",
        (*app("c-libfoo"), ("/usr/local/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
    ),
    Case(
        "libfoo-via-config-ld-library-path", "glibc", ("/app",), None,
        (*app("c-libfoo"), ("/opt/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
        env=("PATH=/usr/bin:/bin", "LD_LIBRARY_PATH=/opt/lib"),
    ),
    Case(
        "rpath-origin", "glibc", ("/opt/app/bin/app",), None,
        (("/opt/app/bin/app", "c-rpath", 0o755),
         ("/opt/app/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
    ),
    Case(
        "runpath-origin", "glibc", ("/opt/app/bin/app",), None,
        (("/opt/app/bin/app", "c-runpath", 0o755),
         ("/opt/app/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
    ),
    Case(
        "runpath-origin-through-path-symlink", "glibc", ("app",), None,
        (("/opt/app/bin/app", "c-runpath", 0o755),
         ("/opt/app/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
        symlinks=(("/usr/local/bin/app", "/opt/app/bin/app"),),
    ),
    Case(
        "runpath-lib-elsewhere", "glibc", ("/opt/app/bin/app",), "missing-library",
        (("/opt/app/bin/app", "c-runpath", 0o755),
         ("/opt/lib/libfoo.so.1", "libfoo.so.1", 0o644)),
    ),
    Case("stale-ld-cache", "stale_ldcache", ("/app",), "stale-ld-cache", app("c-libfoo")),
    Case("nodeflib-on-glibc", "glibc", ("/app",), "missing-library", app("c-nodeflib")),
    # symbol versions
    Case(
        "needs-VER_2-provider-has-VER_1", "glibc", ("/app",), "symbol-version",
        (*app("c-ver2"), ("/usr/lib/libver.so.1", "libver.so.1-v1only", 0o644)),
    ),
    Case(
        "needs-VER_2-provider-has-it", "glibc", ("/app",), None,
        (*app("c-ver2"), ("/usr/lib/libver.so.1", "libver.so.1", 0o644)),
    ),
    Case(
        "needs-GLIBC_2.34-base-has-2.31", "glibc", ("/app",), "symbol-version",
        (*app("c-dynamic"), (f"{GLIBC_LIB}/libc.so.6", "stub-libc.so.6", 0o755)),
    ),
    # architecture
    Case("arm64-binary-in-amd64-image", "glibc", ("/app",), "arch-mismatch", app("arm64-dynamic")),
    Case(
        "arm64-on-arm64", "arm64_glibc", ("/app",), None, app("arm64-dynamic"),
        platform="linux/arm64",
    ),
    Case(
        "arm64-static-on-static", "static", ("/app",), None, app("arm64-static"),
        platform="linux/arm64",
    ),
    Case(
        "arm64-dynamic-on-static", "static", ("/app",), "missing-interpreter",
        app("arm64-dynamic"), platform="linux/arm64",
    ),
    # scripts
    Case("bash-script-no-bash", "glibc", ("/app",), "missing-interpreter", app("script-bash")),
    Case("bash-script-with-bash", "glibc_shell", ("/app",), None, app("script-bash")),
    Case("env-bash-with-bash", "glibc_shell", ("/app",), None, app("script-env-bash")),
    Case("env-bash-on-busybox", "musl", ("/app",), "missing-interpreter", app("script-env-bash")),
    Case("sh-script-on-busybox", "musl", ("/app",), None, app("script-sh")),
    Case("crlf-script", "glibc_shell", ("/app",), "missing-interpreter", app("script-crlf")),
    Case("script-without-shebang", "glibc_shell", ("/app",), "not-executable",
         app("script-no-shebang")),
    # entrypoint resolution and permissions
    Case("entrypoint-absent", "static", ("/nope",), "entrypoint-not-found", app("go-static")),
    Case("entrypoint-not-on-path", "static", ("app",), "entrypoint-not-found", app("go-static")),
    Case(
        "entrypoint-on-config-path", "static", ("app",), None,
        app("go-static", "/srv/bin/app"), env=("PATH=/srv/bin",),
    ),
    Case(
        "relative-to-workdir", "static", ("./bin/app",), None, app("go-static", "/srv/bin/app"),
        extra={"working_dir": "/srv"},
    ),
    Case("dangling-symlink", "static", ("/app",), "entrypoint-not-found",
         symlinks=(("/app", "/gone"),)),
    Case("no-exec-bit", "static", ("/app",), "not-executable", app("go-static", mode=0o644)),
    Case(
        "owner-only-exec-as-nobody", "static", ("/app",), "not-executable",
        app("go-static", mode=0o700), user="nobody",
    ),
    Case("owner-only-exec-as-root", "static", ("/app",), None, app("go-static", mode=0o700)),
    Case("entrypoint-is-directory", "static", ("/srv",), "not-executable", dirs=("/srv",)),
    # Docker's shell form: CMD app --flag is ["/bin/sh", "-c", "app --flag"]
    Case("shell-form-static", "musl", ("/bin/sh", "-c", "exec /app --flag"), None,
         app("musl-static")),
    Case("shell-form-on-path", "glibc_shell", ("/bin/sh", "-c", "app"), None,
         app("go-static", "/usr/local/bin/app")),
    Case("shell-form-glibc-on-musl", "musl", ("/bin/sh", "-c", "exec /app"),
         "missing-interpreter", app("go-cgo")),
    Case("shell-form-absent", "glibc_shell", ("/bin/sh", "-c", "FOO=1 exec /app --flag"),
         "entrypoint-not-found"),
    Case("shell-form-script-without-bash", "musl", ("/bin/sh", "-c", "/app"),
         "missing-interpreter", app("script-bash")),
)  # fmt: skip


def _layer(case: Case, binaries: Binaries) -> Layer:
    layer = Layer()
    for directory in case.dirs:
        layer.dir(directory)
    for path, name, mode in case.files:
        layer.file(path, binaries.path(name).read_bytes(), mode=mode)
    for path, target in case.symlinks:
        layer.symlink(path, target)
    for path in case.whiteouts:
        layer.whiteout(path)
    return layer


def _env(case: Case) -> tuple[str, ...]:
    return case.env or (f"PATH={DEFAULT_PATH}",)


def _write_layout(case: Case, bases: dict[str, Path], binaries: Binaries, dest: Path) -> Path:
    """The case's image (its base, then one layer of its files) as an OCI layout tagged case."""
    spec = ImageSpec(
        layers=[Layer().add_tree(bases[case.base]), _layer(case, binaries)],
        entrypoint=list(case.entrypoint),
        user=case.user,
        platform=case.platform,
        working_dir=case.extra.get("working_dir", ""),
        env=_env(case),
    )
    return write_image(spec, dest, "oci-layout", tags=["case"])


@pytest.fixture(scope="module")
def bases(request: pytest.FixtureRequest) -> dict[str, Path]:
    names = ("glibc", "glibc_shell", "musl", "static", "arm64_glibc", "stale_ldcache")
    return {name: request.getfixturevalue(f"base_{name}") for name in names}


def _unpack_with_umoci(layout: Path, dest: Path) -> Path:
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:case", str(dest)],
        check=True,
        capture_output=True,
    )
    return dest / "rootfs"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verdict_matches_reality(
    case: Case,
    bases: dict[str, Path],
    fixture_binaries: Binaries,
    oracle_host: None,
    tmp_path: Path,
) -> None:
    env = _env(case)
    layout = _write_layout(case, bases, fixture_binaries, tmp_path / "layout")

    report = analyze(layout)
    (platform,) = report.platforms
    got = next((f.rule for f in platform.findings if f.severity is Severity.ERROR), None)
    assert got == case.expect, [f"{f.rule}: {f.message}" for f in platform.findings]
    assert platform.verdict.value in (("pass", "warn") if case.expect is None else ("fail",))

    rootfs = _unpack_with_umoci(layout, tmp_path / "bundle")
    real = run_entrypoint(
        rootfs,
        case.entrypoint,
        env=env,
        working_dir=case.extra.get("working_dir", "/"),
        user=case.user,
        arch=case.platform.split("/")[1],
    )
    expected_at_run_time = SAME_AT_RUN_TIME.get(case.expect or "", case.expect)
    if case.entrypoint[1:2] == ("-c",) and case.expect in SHELL_SAYS_NOT_FOUND:
        expected_at_run_time = "shell-not-found"
    if case.expect == "not-executable" and real.exec_errno == "ENOEXEC":
        expected_at_run_time = "exec-format-error"
    assert real.rule == expected_at_run_time, (real.exit_code, real.stderr, real.stdout)
    if case.expect is None:
        # the program is always the case's first file: it must have printed its greeting
        expected_output = fixture_binaries[case.files[0][1]].output
        assert expected_output is not None
        assert real.stdout.strip() == expected_output.strip()
    shutil.rmtree(tmp_path / "bundle", ignore_errors=True)


# The same images re-written by a real image tool: skopeo's docker-archive (uncompressed
# layers, as `docker save` before Docker 25) and an oci-archive with zstd layers.
SKOPEO_CASES = tuple(
    c
    for c in CASES
    if c.id
    in {
        "go-cgo-on-static",
        "go-cgo-on-glibc",
        "runpath-origin-through-path-symlink",
        "stale-ld-cache",
        "needs-GLIBC_2.34-base-has-2.31",
        "cxx-libstdcxx-whited-out",
        "arm64-on-arm64",
    }
)
SKOPEO_DESTS = {
    "docker-archive": ("docker-archive:{out}:case:latest",),
    "oci-archive-zstd": ("oci-archive:{out}:case", "--dest-compress-format", "zstd"),
}


@pytest.mark.parametrize("dest", sorted(SKOPEO_DESTS))
@pytest.mark.parametrize("case", SKOPEO_CASES, ids=[c.id for c in SKOPEO_CASES])
def test_verdict_same_when_written_by_skopeo(
    case: Case, dest: str, bases: dict[str, Path], fixture_binaries: Binaries, tmp_path: Path
) -> None:
    layout = _write_layout(case, bases, fixture_binaries, tmp_path / "layout")
    out = tmp_path / "image.tar"
    target, *flags = SKOPEO_DESTS[dest]
    subprocess.run(
        ["skopeo", "copy", "--quiet", *flags, f"oci:{layout}:case", target.format(out=out)],
        check=True,
        capture_output=True,
    )
    (platform,) = analyze(out).platforms
    got = next((f.rule for f in platform.findings if f.severity is Severity.ERROR), None)
    assert got == case.expect, [f"{f.rule}: {f.message}" for f in platform.findings]
