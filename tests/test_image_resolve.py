"""In-root symlink resolution, identical for the image tree and a real directory."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest

from linkcheck.image import DirFileSystem, open_image
from linkcheck.image._resolve import MAX_SYMLINK_HOPS
from tests.support.imagebuilder import ImageSpec, Layer, write_image

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from linkcheck.model import FileSystem


def _layer() -> Layer:
    layer = (
        Layer()
        .dir("/usr")
        .dir("/usr/lib")
        .file("/usr/lib/libc.so.6", b"\x7fELF libc")
        .dir("/usr/bin")
        .file("/usr/bin/app", b"\x7fELF app")
        .symlink("/lib", "usr/lib")
        .symlink("/lib64", "/usr/lib")
        .symlink("/bin", "usr/bin")
        .symlink("/usr/bin/up", "../../../../usr/lib")
        .symlink("/escape", "../../../../etc/passwd")  # must not reach the host's
        .symlink("/loop-a", "loop-b")
        .symlink("/loop-b", "loop-a")
        .symlink("/self", "self")
        .symlink("/dangling", "/nowhere/file")
        .file("/plain", b"p")
        .symlink("/through-file", "plain/x")
        .dir("/d")
    )
    # a chain just past the kernel's limit, and one exactly at it
    for i in range(MAX_SYMLINK_HOPS + 1):
        layer.symlink(f"/d/c{i}", f"c{i + 1}")
    layer.file(f"/d/c{MAX_SYMLINK_HOPS + 1}", b"end")
    for i in range(MAX_SYMLINK_HOPS):
        layer.symlink(f"/d/k{i}", f"k{i + 1}")
    layer.file(f"/d/k{MAX_SYMLINK_HOPS}", b"end")
    return layer


@pytest.fixture(scope="module", params=["image", "directory"])
def fs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FileSystem]:
    tmp = tmp_path_factory.mktemp("resolve")
    layer = _layer()
    if request.param == "directory":
        root = tmp / "rootfs"
        root.mkdir()
        for entry in layer.entries:
            host = root / entry.name
            if entry.kind == "dir":
                host.mkdir()
            elif entry.kind == "symlink":
                os.symlink(entry.linkname, host)
            else:
                assert isinstance(entry.data, bytes)
                host.write_bytes(entry.data)
        yield DirFileSystem(root)
        return
    path = write_image(ImageSpec(layers=[layer]), tmp / "img", "oci-layout")
    with open_image(path) as archive:
        yield archive.load(archive.images[0]).rootfs


CASES = {
    # path: (follow_final, real_path, found, error, hops)
    "/lib/libc.so.6": (True, "/usr/lib/libc.so.6", True, None, ("/lib -> usr/lib",)),
    "/lib64/libc.so.6": (True, "/usr/lib/libc.so.6", True, None, ("/lib64 -> /usr/lib",)),
    "lib/./libc.so.6": (True, "/usr/lib/libc.so.6", True, None, ("/lib -> usr/lib",)),
    "/../../lib/libc.so.6": (True, "/usr/lib/libc.so.6", True, None, ("/lib -> usr/lib",)),
    "/bin/up/libc.so.6": (
        True,
        "/usr/lib/libc.so.6",
        True,
        None,
        ("/bin -> usr/bin", "/usr/bin/up -> ../../../../usr/lib"),
    ),
    # ".." after a link is taken in the link's target (/usr/lib/.. = /usr), as the kernel does
    "/lib/../bin/app": (True, "/usr/bin/app", True, None, ("/lib -> usr/lib",)),
    "/escape": (True, "/etc/passwd", False, None, ("/escape -> ../../../../etc/passwd",)),
    "/lib": (False, "/lib", True, None, ()),
    "/loop-a": (True, "/loop-a", False, "symlink loop", ("/loop-a -> loop-b", "/loop-b -> loop-a")),
    "/self/x": (True, "/self", False, "symlink loop", ("/self -> self",)),
    "/dangling": (True, "/nowhere/file", False, None, ("/dangling -> /nowhere/file",)),
    "/through-file": (True, "/plain/x", False, "not a directory", ("/through-file -> plain/x",)),
    "/missing/deeper": (True, "/missing/deeper", False, None, ()),
    "/": (True, "/", True, None, ()),
}


@pytest.mark.parametrize("path", CASES, ids=list(CASES))
def test_resolve(fs: FileSystem, path: str) -> None:
    follow, real_path, found, error, hops = CASES[path]
    res = fs.resolve(path, follow_final=follow)
    assert (res.real_path, res.found, res.error, res.hops) == (real_path, found, error, hops)


def test_hop_limit_is_the_kernels(fs: FileSystem) -> None:
    at_limit = fs.resolve("/d/k0")
    assert (at_limit.real_path, at_limit.found, len(at_limit.hops)) == (
        f"/d/k{MAX_SYMLINK_HOPS}",
        True,
        MAX_SYMLINK_HOPS,
    )
    past = fs.resolve("/d/c0")
    assert (past.found, past.error, len(past.hops)) == (
        False,
        "too many levels of symbolic links",
        MAX_SYMLINK_HOPS,
    )


def test_read_through_links_and_listdir(fs: FileSystem) -> None:
    assert fs.read_bytes("/lib64/libc.so.6") == b"\x7fELF libc"
    assert fs.listdir("/lib") == ("libc.so.6",)
    assert fs.listdir("/plain") == ()
    with pytest.raises(FileNotFoundError):
        fs.read_bytes("/escape")


def test_walk_is_parents_first_sorted(fs: FileSystem) -> None:
    paths = [e.path for e in fs.walk()]
    assert paths[:4] == ["/", "/bin", "/d", "/d/c0"]
    assert paths.index("/usr") < paths.index("/usr/bin") < paths.index("/usr/bin/app")
    assert len(paths) == len(set(paths))


def test_empty_link_target_is_not_found(tmp_path: Path) -> None:
    """Linux refuses to create one, but a tar can hold it: ENOENT, like the kernel."""
    layer = Layer().symlink("/empty", "").file("/f", b"f")
    path = write_image(ImageSpec(layers=[layer]), tmp_path / "img", "oci-layout")
    with open_image(path) as archive:
        res = archive.load(archive.images[0]).rootfs.resolve("/empty/x")
    assert (res.real_path, res.found, res.error, res.hops) == ("/empty", False, None, ())
