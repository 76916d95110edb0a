"""Grounding: build Dockerfiles for real with buildah, then compare ``linkcheck analyze`` on the
image with ``linkcheck dockerfile`` on its source.

No registry is reachable here, so every FROM names a local image made first from Debian 12
packages (tests/support/bases.py) with ``buildah from scratch`` + ``copy`` + ``commit``:

- ``localhost/lc-static``      like distroless static: no loader, no libc
- ``localhost/lc-glibc``       Debian 12's libc6 (glibc 2.36), no shell
- ``localhost/lc-go-builder``  glibc + dash/coreutils + Debian's Go 1.19 (golang-1.19-go/-src),
                               no gcc, so the builds use CGO_ENABLED=0 (with and without PIE)

buildah runs with the vfs driver and chroot isolation, its store under tmp_path. One
Dockerfile (fixtures/dockerfiles-buildah/grounding.Dockerfile) has three leaf stages; each is
built with ``bud --layers --target`` (the builder stage is cached after the first).
fixtures/dockerfiles-buildah/bases.json describes the local bases for ``--catalog``.
Three verdicts are compared: the Dockerfile check, ``linkcheck analyze`` on the oci-archive,
and the oracle (tests/support/oracle.py) actually executing the entrypoint in the image's root.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from linkcheck.cli import main
from linkcheck.dockerfile import check_dockerfile
from linkcheck.model import Severity
from tests.support.bases import download_debs
from tests.support.oracle import classify, run_entrypoint

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.tools, pytest.mark.oracle]

CONTEXT = Path(__file__).resolve().parent.parent / "fixtures" / "dockerfiles-buildah"
DOCKERFILE = CONTEXT / "grounding.Dockerfile"
GO_PACKAGES = ("golang-1.19-go", "golang-1.19-src")

# What each build must give: the Dockerfile error, the image verdict and error (analyze and
# the oracle name the same rule), and the entrypoint to execute.
CASES = {
    "pie-on-static": ("dynamic-binary-on-static-base", "fail", "missing-interpreter", "/hello"),
    "static-on-static": (None, "pass", None, "/hello"),
    "pie-on-glibc": (None, "pass", None, "/usr/local/bin/hello"),
}
Expected = tuple[str | None, str, str | None, str]


class Buildah:
    def __init__(self, work: Path) -> None:
        self.base = ["buildah", "--root", str(work / "root"), "--runroot", str(work / "run"),
                     "--storage-driver", "vfs"]  # fmt: skip
        self.env = {**os.environ, "TMPDIR": str(work), "BUILDAH_ISOLATION": "chroot"}

    def __call__(self, *args: str, cwd: Path | None = None) -> str:
        proc = subprocess.run(
            [*self.base, *args], cwd=cwd, env=self.env, capture_output=True, text=True
        )
        assert proc.returncode == 0, f"buildah {' '.join(args)}: {proc.stderr}"
        return proc.stdout.strip()

    def image_from_tree(self, name: str, *trees: tuple[Path, str]) -> None:
        container = self("from", "scratch")
        for tree, dest in trees:
            self("copy", "--quiet", container, f"{tree}/", dest)
        self("commit", "--quiet", "--rm", container, name)


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory,
    base_static: Path,
    base_glibc: Path,
    base_glibc_shell: Path,
) -> Iterator[dict[str, tuple[Path, Path]]]:
    """Each case's (oci-archive, unpacked root filesystem), built once for the module."""
    work = tmp_path_factory.mktemp("buildah")
    go_root = work / "go-tree"
    for deb in download_debs(GO_PACKAGES):
        subprocess.run(["dpkg-deb", "-x", str(deb), str(go_root)], check=True)
    for unused in ("usr/share/go-1.19/test", "usr/share/go-1.19/api", "usr/share/doc"):
        shutil.rmtree(go_root / unused, ignore_errors=True)  # not needed to build: less to copy
    (go_root / "usr/bin").mkdir(parents=True, exist_ok=True)
    (go_root / "usr/bin/go").symlink_to("../lib/go-1.19/bin/go")
    (go_root / "tmp").mkdir(mode=0o1777)
    os.chmod(go_root / "tmp", 0o1777)
    buildah = Buildah(work)
    try:
        buildah.image_from_tree("localhost/lc-static", (base_static, "/"))
        buildah.image_from_tree("localhost/lc-glibc", (base_glibc, "/"))
        buildah.image_from_tree("localhost/lc-go-builder", (base_glibc_shell, "/"), (go_root, "/"))
        archives: dict[str, tuple[Path, Path]] = {}
        for case in CASES:
            tag = f"localhost/{case}"
            buildah("bud", "--quiet", "--isolation", "chroot", "--pull-never", "--layers",
                    "--target", case, "-f", str(DOCKERFILE), "-t", tag, str(CONTEXT))  # fmt: skip
            archive, rootfs = work / f"{case}.tar", work / f"{case}-rootfs"
            buildah("push", "--quiet", tag, f"oci-archive:{archive}:latest")
            container = buildah("from", "--pull-never", tag)
            shutil.copytree(buildah("mount", container), rootfs, symlinks=True)
            archives[case] = (archive, rootfs)
        yield archives
    finally:
        subprocess.run([*buildah.base, "rm", "--all"], env=buildah.env, capture_output=True)
        subprocess.run(
            [*buildah.base, "rmi", "--all", "--force"], env=buildah.env, capture_output=True
        )
        shutil.rmtree(work / "root", ignore_errors=True)


@pytest.mark.parametrize(("case", "expected"), list(CASES.items()), ids=list(CASES))
def test_dockerfile_verdict_matches_the_built_image(
    case: str,
    expected: Expected,
    built: dict[str, tuple[Path, Path]],
    oracle_host: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    dockerfile_rule, verdict, image_rule, entrypoint = expected
    archive, rootfs = built[case]
    findings = check_dockerfile(DOCKERFILE, catalog=CONTEXT / "bases.json")
    errors = [f.rule for f in findings if f.severity is Severity.ERROR and f.stage == case]
    assert errors == ([dockerfile_rule] if dockerfile_rule else [])

    code = main(["analyze", "--format", "json", str(archive)])
    report = json.loads(capsys.readouterr().out)
    (platform,) = report["platforms"]
    assert platform["verdict"] == verdict
    assert [f["rule"] for f in platform["findings"] if f["severity"] == "error"] == (
        [image_rule] if image_rule else []
    )
    # The two tools agree: an error from the Dockerfile exactly when the image fails...
    assert (code == 1) == bool(errors)
    # ...and so does reality.
    result = run_entrypoint(rootfs, [entrypoint])
    assert classify(result) == image_rule, result
    if image_rule is None:
        assert result.stdout == "hello from a linkcheck grounding image\n"
