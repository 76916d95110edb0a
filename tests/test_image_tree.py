"""The merged tree: whiteouts, opaque markers, hardlinks, type changes, in every format."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from linkcheck.image import open_image
from linkcheck.model import FileType
from tests.support.imagebuilder import (
    FORMATS,
    ExpectedNode,
    ImageSpec,
    Layer,
    expected_tree,
    tree_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from linkcheck.image import ImageRootFS

D = ExpectedNode("dir", 0o755, 0, 0)


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def F(data: bytes, mode: int = 0o755, uid: int = 0, gid: int = 0) -> ExpectedNode:
    return ExpectedNode("file", mode, uid, gid, None, _sha(data))


def L(target: str) -> ExpectedNode:
    return ExpectedNode("symlink", 0o777, 0, 0, target)


CASES: dict[str, tuple[list[Layer], dict[str, ExpectedNode]]] = {
    "whiteout-file": (
        [Layer().dir("/a").file("/a/x", b"x").file("/a/y", b"y"), Layer().whiteout("/a/x")],
        {"/a": D, "/a/y": F(b"y")},
    ),
    "whiteout-dir": (
        [Layer().dir("/d").dir("/d/sub").file("/d/sub/f", b"f"), Layer().whiteout("/d/sub")],
        {"/d": D},
    ),
    "whiteout-then-recreate-in-upper-layer": (
        [Layer().file("/x", b"old"), Layer().whiteout("/x"), Layer().file("/x", b"new")],
        {"/x": F(b"new")},
    ),
    "opaque-listed-after-siblings": (
        [
            Layer().dir("/etc").file("/etc/a", b"a").file("/etc/b", b"b"),
            Layer().dir("/etc").file("/etc/c", b"c").opaque("/etc"),
        ],
        {"/etc": D, "/etc/c": F(b"c")},
    ),
    "opaque-listed-first": (
        [
            Layer().dir("/etc").file("/etc/a", b"a"),
            Layer().dir("/etc").opaque("/etc").file("/etc/c", b"c"),
        ],
        {"/etc": D, "/etc/c": F(b"c")},
    ),
    "opaque-spares-upper-subdir-not-its-lower-content": (
        [
            Layer().dir("/d").dir("/d/s").file("/d/s/x", b"x").file("/d/t", b"t"),
            Layer().dir("/d/s").file("/d/s/y", b"y").opaque("/d"),
        ],
        {"/d": D, "/d/s": D, "/d/s/y": F(b"y")},
    ),
    "hardlink-then-whiteout-of-target": (
        [
            Layer().dir("/bin").file("/bin/app", b"\x7fELF app"),
            Layer().hardlink("/app2", "/bin/app"),
            Layer().whiteout("/bin/app"),
        ],
        {"/bin": D, "/app2": F(b"\x7fELF app")},
    ),
    "hardlink-bound-before-target-replaced": (
        [Layer().file("/a", b"one").hardlink("/b", "/a").file("/a", b"two")],
        {"/a": F(b"two"), "/b": F(b"one")},
    ),
    "dir-replaced-by-symlink-without-whiteout": (
        [
            Layer().dir("/lib").file("/lib/libc.so", b"\x7fELF c").dir("/usr").dir("/usr/lib"),
            Layer().symlink("/lib", "usr/lib"),
        ],
        {"/lib": L("usr/lib"), "/usr": D, "/usr/lib": D},
    ),
    "file-replaced-by-dir": (
        [Layer().file("/x", b"file"), Layer().dir("/x", mode=0o700).file("/x/y", b"y")],
        {"/x": ExpectedNode("dir", 0o700, 0, 0), "/x/y": F(b"y")},
    ),
    "symlink-replaced-by-file": (
        [Layer().symlink("/sh", "busybox"), Layer().file("/sh", b"#!x")],
        {"/sh": F(b"#!x")},
    ),
    "implicit-parents": (
        [Layer().file("/a/b/c", b"c")],
        {"/a": D, "/a/b": D, "/a/b/c": F(b"c")},
    ),
    "dir-metadata-updated-children-kept": (
        [Layer().dir("/t").file("/t/f", b"f"), Layer().dir("/t", mode=0o1777, uid=5, gid=6)],
        {"/t": ExpectedNode("dir", 0o1777, 5, 6), "/t/f": F(b"f")},
    ),
    "modes-and-owners-kept": (
        [
            Layer()
            .file("/su", b"s", mode=0o4755, uid=0)
            .file("/u", b"u", mode=0o640, uid=1000, gid=50)
        ],
        {"/su": F(b"s", 0o4755), "/u": F(b"u", 0o640, 1000, 50)},
    ),
    "fifo-and-device": (
        [Layer().dir("/dev").fifo("/dev/p", mode=0o600).device("/dev/null")],
        {
            "/dev": D,
            "/dev/p": ExpectedNode("fifo", 0o600, 0, 0),
            "/dev/null": ExpectedNode("char", 0o666, 0, 0),
        },
    ),
}


def _rootfs_tree(path: Path) -> dict[str, ExpectedNode]:
    with open_image(path) as archive:
        return tree_of(archive.load(archive.images[0]).rootfs)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_merged_tree(build_image: Callable[..., Path], case: str, fmt: str) -> None:
    layers, want = CASES[case]
    spec = ImageSpec(layers=layers)
    assert expected_tree(spec) == want  # the builder's textbook model agrees with the case
    assert _rootfs_tree(build_image(spec, fmt)) == want


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
def test_compressions_give_the_same_tree(
    build_image: Callable[..., Path], compression: str
) -> None:
    layers, want = CASES["opaque-listed-after-siblings"]
    spec = ImageSpec(layers=layers)
    assert _rootfs_tree(build_image(spec, "oci-layout", layer_compression=compression)) == want


def test_mixed_compression_and_lying_media_type(build_image: Callable[..., Path]) -> None:
    layers = [
        Layer(compression="gzip").file("/a", b"\x7fELF a"),
        Layer(compression="zstd", media_type="application/vnd.oci.image.layer.v1.tar+gzip")
        .file("/b", b"b"),
        Layer(compression="plain", media_type="application/vnd.oci.image.layer.v1.tar+zstd")
        .file("/c", b"#!/bin/sh"),
    ]  # fmt: skip
    path = build_image(ImageSpec(layers=layers), "oci-archive")
    with open_image(path) as archive:
        image = archive.load(archive.images[0])
        assert [layer.compression.value for layer in image.layers] == ["gzip", "zstd", "none"]
        assert tree_of(image.rootfs) == {
            "/a": F(b"\x7fELF a"),
            "/b": F(b"b"),
            "/c": F(b"#!/bin/sh"),
        }


def _provider(rootfs: ImageRootFS, path: str) -> int | None:
    entry = rootfs.lookup(path)
    assert entry is not None
    return entry.layer


def test_entries_record_the_providing_layer(build_image: Callable[..., Path]) -> None:
    layers = [
        Layer().dir("/bin").file("/bin/a", b"a"),
        Layer().file("/bin/b", b"b"),
        Layer().hardlink("/bin/c", "/bin/a").dir("/bin", mode=0o711),
    ]
    with open_image(build_image(ImageSpec(layers=layers), "docker-archive")) as archive:
        rootfs = archive.load(archive.images[0]).rootfs
        got = {p: _provider(rootfs, p) for p in ("/bin", "/bin/a", "/bin/b", "/bin/c")}
    assert got == {"/bin": 2, "/bin/a": 0, "/bin/b": 1, "/bin/c": 2}


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
def test_content_is_readable_lazily(build_image: Callable[..., Path], compression: str) -> None:
    """ELF/scripts are kept while streaming; any other file is fetched on demand."""
    big = bytes(range(256)) * 4096
    layer = (
        Layer()
        .file("/elf", b"\x7fELF" + big)
        .file("/data.bin", big)
        .file("/empty", b"")
        .dir("/etc")
        .file("/etc/os-release", b"ID=test\n", mode=0o644)
    )
    path = build_image(ImageSpec(layers=[layer]), "oci-layout", layer_compression=compression)
    with open_image(path) as archive:
        rootfs = archive.load(archive.images[0]).rootfs
        with rootfs.open("/elf") as f:
            f.seek(4 + 1000)
            assert f.read(3) == big[1000:1003]
            assert f.seek(0, 2) == len(big) + 4
        assert (rootfs.head("/elf"), rootfs.head("/data.bin"), rootfs.head("/etc")) == (
            b"\x7fELF",
            big[:4],
            b"",
        )
        assert rootfs.read_bytes("/data.bin") == big
        assert rootfs.read_bytes("/data.bin", limit=3) == big[:3]
        assert rootfs.read_bytes("/empty") == b""
        assert rootfs.read_bytes("/etc/os-release") == b"ID=test\n"
        with pytest.raises(FileNotFoundError):
            rootfs.open("/etc")
        with pytest.raises(FileNotFoundError):
            rootfs.open("/nope")
        assert rootfs.listdir("/") == ("data.bin", "elf", "empty", "etc")
        assert rootfs.listdir("/elf") == ()
        assert [e.type for e in rootfs.walk()][:2] == [FileType.DIRECTORY, FileType.REGULAR]


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_deferred_content_comes_from_its_own_layer(
    build_image: Callable[..., Path], compression: str
) -> None:
    """Non-candidate files are fetched later from the right layer, hardlinks included."""
    one, two = bytes([1]) * 50_000, bytes([2]) * 60_000
    layers = [
        Layer().dir("/d").file("/d/one", one, mode=0o644).file("/d/pad", bytes(9000)),
        Layer().file("/two", two, mode=0o644).hardlink("/one-link", "/d/one"),
        Layer().whiteout("/d"),
    ]
    path = build_image(ImageSpec(layers=layers), "oci-archive", layer_compression=compression)
    with open_image(path) as archive:
        rootfs = archive.load(archive.images[0]).rootfs
        assert rootfs.read_bytes("/two") == two
        assert rootfs.read_bytes("/one-link") == one
        assert rootfs.read_bytes("/one-link") == one  # second read: from the content store
        assert rootfs.resolve("/d/one").found is False
