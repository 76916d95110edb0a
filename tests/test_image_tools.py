"""Contract with real tools: skopeo, umoci and buildah write it, linkcheck reads the same tree.

The oracle is ``umoci unpack`` (run as root, so owners are kept): its rootfs directory, read
through :class:`DirFileSystem`, must equal our merged tree path for path (type, mode, owner,
link target, content hash). ``umoci insert`` is broken in 0.4.7 (FACTS.md), so edits go
through unpack -> change files -> repack, which writes real whiteouts.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
from typing import TYPE_CHECKING

import pytest

from linkcheck.image import DirFileSystem, open_image
from tests.support.imagebuilder import (
    ExpectedNode,
    ImageSpec,
    Layer,
    expected_tree,
    tree_of,
    write_image,
)

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.tools


def _run(*args: str | Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False, env=env
    )
    assert result.returncode == 0, f"{args[0]} failed: {result.stderr}"
    return result.stdout


def _spec() -> ImageSpec:
    base = (
        Layer()
        .dir("/usr").dir("/usr/bin").dir("/usr/lib").dir("/etc").dir("/etc/conf.d")
        .dir("/var").dir("/var/lib")
        .file("/usr/bin/app", b"\x7fELF app", mode=0o755)
        .file("/usr/bin/suid", b"\x7fELF suid", mode=0o4755)
        .file("/usr/lib/libc.so.6", b"\x7fELF libc", mode=0o644)
        .file("/etc/passwd", b"root:x:0:0::/root:/bin/sh\n", mode=0o644)
        .file("/etc/shadow", b"root:*:1::::::\n", mode=0o640, gid=42)
        .file("/etc/conf.d/a", b"a", mode=0o644)
        .file("/etc/conf.d/b", b"b", mode=0o644)
        .file("/var/lib/data", b"d", mode=0o600, uid=1000, gid=1000)
        .symlink("/bin", "usr/bin")
        .symlink("/lib64", "/usr/lib")
        .hardlink("/usr/bin/app-link", "/usr/bin/app")
        .fifo("/var/fifo", mode=0o600)
    )  # fmt: skip
    middle = (
        Layer(compression="gzip")
        .dir("/etc/conf.d").whiteout("/etc/conf.d/a").file("/etc/conf.d/c", b"c", mode=0o644)
        .dir("/var/lib").file("/var/lib/new", b"n", mode=0o644).opaque("/var/lib")
        .hardlink("/keep", "/usr/lib/libc.so.6")
    )  # fmt: skip
    top = (
        Layer()
        .dir("/usr/lib")
        .whiteout("/usr/lib/libc.so.6")
        .dir("/usr/bin")
        .whiteout("/usr/bin/suid")
    )
    return ImageSpec([base, middle, top], entrypoint=["/bin/app"])


def _ours(path: Path | str) -> dict[str, ExpectedNode]:
    with open_image(path) as archive:
        return tree_of(archive.load(archive.images[0]).rootfs)


def _umoci_tree(layout: Path, tag: str, bundle: Path) -> dict[str, ExpectedNode]:
    _run("umoci", "unpack", "--image", f"{layout}:{tag}", bundle)
    return tree_of(DirFileSystem(bundle / "rootfs"))


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tools")


@pytest.fixture(scope="module")
def source(work: Path) -> Path:
    return write_image(_spec(), work / "src", "oci-layout", tags=["t"])


@pytest.fixture(scope="module")
def oracle(source: Path, work: Path) -> dict[str, ExpectedNode]:
    tree = _umoci_tree(source, "t", work / "bundle")
    assert tree == expected_tree(_spec())  # the builder's model agrees with umoci
    return tree


def _skopeo(source: Path, dest: str, *extra: str) -> None:
    _run("skopeo", "--insecure-policy", "copy", "--quiet", *extra, f"oci:{source}:t", dest)


@pytest.mark.parametrize(
    "target",
    ["builder-oci-layout", "docker-archive", "oci-archive", "oci-zstd", "oci-archive-zstd"],
)
def test_same_tree_as_umoci(
    source: Path, work: Path, oracle: dict[str, ExpectedNode], target: str
) -> None:
    zstd = ("--dest-compress-format", "zstd", "--dest-compress")
    if target == "builder-oci-layout":
        path: Path | str = source
    elif target == "docker-archive":
        path = work / "d.tar"
        _skopeo(source, f"docker-archive:{path}:app:t")
    elif target == "oci-archive":
        path = work / "o.tar"
        _skopeo(source, f"oci-archive:{path}:t")
    elif target == "oci-zstd":
        path = work / "z"
        _skopeo(source, f"oci:{path}:t", *zstd)
    else:
        path = work / "oz.tar"
        _skopeo(source, f"oci-archive:{path}:t", *zstd)
    with open_image(path) as archive:
        image = archive.load(archive.images[0])
        if "zstd" in target:
            assert {layer.compression.value for layer in image.layers} == {"zstd"}
        assert tree_of(image.rootfs) == oracle


def test_umoci_repack_whiteouts(source: Path, work: Path) -> None:
    layout = work / "edit"
    shutil.copytree(source, layout)
    bundle = work / "edit-bundle"
    _run("umoci", "unpack", "--image", f"{layout}:t", bundle)
    root = bundle / "rootfs"
    (root / "etc" / "passwd").unlink()  # -> .wh.passwd
    shutil.rmtree(root / "etc" / "conf.d")  # -> .wh.conf.d
    (root / "usr" / "bin" / "app").write_bytes(b"\x7fELF v2")  # the hardlink keeps v1
    shutil.rmtree(root / "var" / "lib", ignore_errors=True)
    (root / "var" / "lib").symlink_to("../usr/lib")  # a directory becomes a symlink
    (root / "etc" / "new").write_bytes(b"new")
    _run("umoci", "repack", "--image", f"{layout}:t", bundle)

    manifest = _manifest(layout, "t")
    top = layout / "blobs" / "sha256" / manifest["layers"][-1]["digest"].removeprefix("sha256:")
    with tarfile.open(top) as tar:
        names = set(tar.getnames())
    assert {"etc/.wh.passwd", "etc/.wh.conf.d"} <= names  # real whiteouts, not a re-export

    assert _ours(layout) == _umoci_tree(layout, "t", work / "edit-check")


def _manifest(layout: Path, tag: str) -> dict[str, list[dict[str, str]]]:
    index = json.loads((layout / "index.json").read_text())
    (desc,) = [
        d for d in index["manifests"]
        if d.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
    ]  # fmt: skip
    blob = layout / "blobs" / "sha256" / desc["digest"].removeprefix("sha256:")
    return json.loads(blob.read_text())  # type: ignore[no-any-return]


def test_buildah_overlay_writes_real_opaque_markers(work: Path) -> None:
    """buildah's overlay driver records ``rm -rf dir; mkdir dir`` as ``.wh..wh..opq``."""
    store = work / "buildah"
    b = ["buildah", "--root", str(store / "root"), "--runroot", str(store / "run"),
         "--storage-driver", "overlay"]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(work), "BUILDAH_ISOLATION": "chroot"}
    try:
        c1 = _run(*b, "from", "scratch", env=env).strip()
        m1 = _run(*b, "mount", c1, env=env).strip()
        os.makedirs(f"{m1}/etc/sub")
        for name, data in (("etc/a", "a"), ("etc/sub/s", "s"), ("keep", "k")):
            with open(f"{m1}/{name}", "w") as f:
                f.write(data)
        _run(*b, "commit", "--quiet", c1, "lower", env=env)
        c2 = _run(*b, "from", "lower", env=env).strip()
        m2 = _run(*b, "mount", c2, env=env).strip()
        shutil.rmtree(f"{m2}/etc")
        os.mkdir(f"{m2}/etc")
        with open(f"{m2}/etc/c", "w") as f:
            f.write("c")
        _run(*b, "commit", "--quiet", c2, "upper", env=env)
        _run(*b, "push", "--quiet", "upper", f"oci:{work / 'bh'}:t", env=env)
        _run(*b, "push", "--quiet", "upper", f"oci-archive:{work / 'bh.tar'}:t", env=env)
    finally:
        subprocess.run([*b, "rm", "--all"], capture_output=True, check=False, env=env)
        subprocess.run([*b, "rmi", "--all", "--force"], capture_output=True, check=False, env=env)
    manifest = _manifest(work / "bh", "t")
    top = (
        work / "bh" / "blobs" / "sha256" / manifest["layers"][-1]["digest"].removeprefix("sha256:")
    )
    with tarfile.open(top) as tar:
        assert "etc/.wh..wh..opq" in tar.getnames()
    umoci = _umoci_tree(work / "bh", "t", work / "bh-bundle")
    assert sorted(umoci) == ["/etc", "/etc/c", "/keep"]
    assert _ours(work / "bh") == umoci
    assert _ours(work / "bh.tar") == umoci
