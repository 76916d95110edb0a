"""Archive shapes, indexes, selection, config and layer metadata."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import textwrap
import threading
from typing import TYPE_CHECKING

import pytest
import zstandard

from linkcheck.errors import ImageFormatError, SelectionError
from linkcheck.image import Compression, ImageRef, LayerInfo, Limits, open_image
from linkcheck.model import ImageConfig, Platform
from tests.support.imagebuilder import FORMATS, ImageSpec, Layer, tree_of, write_image

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def _multi() -> list[ImageSpec]:
    return [
        ImageSpec([Layer().file("/arch", b"amd64")], entrypoint=["/arch"], platform="linux/amd64"),
        ImageSpec(
            [Layer().file("/arch", b"arm64")], entrypoint=["/arch"], platform="linux/arm64/v8"
        ),
    ]


@pytest.mark.parametrize("index", ["flat", "nested"])
@pytest.mark.parametrize("fmt", ["oci-layout", "oci-archive", "docker-hybrid"])
def test_multi_platform_index_skips_attestations(
    build_image: Callable[..., Path], fmt: str, index: str
) -> None:
    path = build_image(_multi(), fmt, tags=["app:1"], index=index, attestation=True)
    with open_image(path) as archive:
        assert [(r.platform, r.names[0]) for r in archive.images] == [
            (AMD64, "app:1"),
            (ARM64, "app:1"),
        ]
        (arm,) = archive.select(platform=Platform.parse("linux/arm64"))
        assert arm.platform == ARM64
        assert archive.load(arm).rootfs.read_bytes("/arch") == b"arm64"
        assert archive.select() == archive.images
        with pytest.raises(SelectionError) as err:
            archive.select(platform=Platform.parse("linux/s390x"))
        assert str(err.value) == (
            "no image for platform linux/s390x; available: linux/amd64, linux/arm64/v8"
        )


@pytest.mark.parametrize("fmt", FORMATS)
def test_several_images_selected_by_name(build_image: Callable[..., Path], fmt: str) -> None:
    specs = [
        ImageSpec([Layer().file("/who", b"a")], tags=["a:1"]),
        ImageSpec([Layer().file("/who", b"b")], tags=["registry.example/team/b:2"]),
    ]
    path = build_image(specs, fmt)
    with open_image(path) as archive:
        assert len(archive.images) == 2
        with pytest.raises(SelectionError) as err:
            archive.select()
        assert str(err.value) == (
            "the archive holds 2 images, choose one with a name: a:1, registry.example/team/b:2"
        )
        for asked, want in [
            ("a:1", b"a"),
            ("docker.io/library/a:1", b"a"),
            ("registry.example/team/b:2", b"b"),
        ]:
            (ref,) = archive.select(name=asked)
            assert archive.load(ref).rootfs.read_bytes("/who") == want
        with pytest.raises(SelectionError) as err:
            archive.select(name="a")  # means a:latest
        assert str(err.value) == "no image named 'a'; choices: a:1, registry.example/team/b:2"


def test_one_image_with_two_tags_is_one_ref(build_image: Callable[..., Path]) -> None:
    spec = ImageSpec([Layer().file("/x", b"x")])
    with open_image(build_image(spec, "oci-layout", tags=["app:1", "app:latest"])) as archive:
        (ref,) = archive.images
        assert ref.names == ("app:1", "app:latest")
        assert archive.select(name="app") == (ref,)


@pytest.mark.parametrize("fmt", FORMATS)
def test_config_and_layers(build_image: Callable[..., Path], fmt: str) -> None:
    layers = [Layer().file("/app", b"\x7fELF"), Layer(compression="gzip").file("/b", b"b")]
    spec = ImageSpec(
        layers,
        entrypoint=["/app", "--serve"],
        cmd=["--port", "80"],
        env=["PATH=/bin", "A=1"],
        working_dir="/srv",
        user="1000:1000",
        platform="linux/arm/v7",
        labels={"k": "v"},
    )
    path = build_image(spec, fmt, tags=["app:1"])
    with open_image(path) as archive:
        (ref,) = archive.images
        image = archive.load(ref)
    assert image.config == ImageConfig(
        platform=Platform("linux", "arm", "v7"),
        entrypoint=("/app", "--serve"),
        cmd=("--port", "80"),
        env=("PATH=/bin", "A=1"),
        working_dir="/srv",
        user="1000:1000",
        labels=(("k", "v"),),
    )
    plain = layers[0].tar_bytes()
    diff_ids = [_sha(plain), _sha(layers[1].tar_bytes())]
    assert [(li.diff_id, li.compression) for li in image.layers] == [
        (diff_ids[0], Compression.NONE),
        (diff_ids[1], Compression.GZIP),
    ]
    assert image.layers[0] == LayerInfo(
        digest=diff_ids[0],
        diff_id=diff_ids[0],
        size=len(plain),
        compression=Compression.NONE,
        media_type=(
            "application/vnd.docker.image.rootfs.diff.tar"
            if fmt == "docker-archive"
            else "application/vnd.oci.image.layer.v1.tar"
        ),
    )
    if fmt == "docker-archive":  # legacy: only the config file name is a digest
        assert ref.digest.startswith("sha256:") and image.layers[1].digest is None


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("outer", ["gzip", "zstd"])
def test_compressed_outer_tarball(tmp_path: Path, outer: str) -> None:
    """``docker save app | gzip > app.tar.gz`` is common; the outer tar is inflated first."""
    plain = write_image(ImageSpec([Layer().file("/x", b"x")]), tmp_path / "a.tar", "docker-archive")
    data = plain.read_bytes()
    packed = gzip.compress(data) if outer == "gzip" else zstandard.compress(data)
    (tmp_path / "a.tar.z").write_bytes(packed)
    with open_image(tmp_path / "a.tar.z") as archive:
        assert archive.load(archive.images[0]).rootfs.read_bytes("/x") == b"x"


def test_stdin_stream_is_spooled(tmp_path: Path) -> None:
    """A non-seekable pipe works; the child's peak RSS stays far below the image size."""
    big = Layer().file("/big", _incompressible(96 << 20), mode=0o644).file("/app", b"\x7fELF")
    path = write_image(
        ImageSpec([big], entrypoint=["/app"]),
        tmp_path / "big.tar",
        "docker-archive",
        tags=["big:1"],
    )
    child = textwrap.dedent(
        """
        import hashlib, resource, subprocess, sys
        code = (
            "import sys, hashlib\\n"
            "from linkcheck.image import open_image\\n"
            "with open_image(sys.stdin.buffer) as a:\\n"
            "    fs = a.load(a.select(name='big:1')[0]).rootfs\\n"
            "    h = hashlib.sha256()\\n"
            "    with fs.open('/big') as f:\\n"
            "        while c := f.read(1 << 20): h.update(c)\\n"
            "    print(h.hexdigest())\\n"
        )
        with open(sys.argv[1], 'rb') as src:
            cat = subprocess.Popen(['cat'], stdin=src, stdout=subprocess.PIPE)
            out = subprocess.run([sys.executable, '-c', code], stdin=cat.stdout,
                                 capture_output=True, text=True, check=True).stdout
            cat.wait()
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        print(out.strip(), rss)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", child, str(path)], capture_output=True, text=True, check=True
    )
    digest, rss_mib = result.stdout.split()
    assert digest == hashlib.sha256(_incompressible(96 << 20)).hexdigest()
    assert int(rss_mib) < 80, f"peak RSS {rss_mib} MiB for a 96 MiB layer read from a pipe"


def _incompressible(size: int) -> bytes:
    block = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, cheap and deterministic
    return (block * (size // len(block) + 1))[:size]


def test_image_ref_is_frozen_and_hashable() -> None:
    ref = ImageRef(("a:1",), AMD64, "sha256:" + "0" * 64)
    assert {ref: 1}[ref] == 1
    with pytest.raises(AttributeError):
        ref.names = ()  # type: ignore[misc]


def test_tree_is_the_same_whatever_the_format(tmp_path: Path) -> None:
    layers = [
        Layer(compression="gzip").dir("/etc").file("/etc/a", b"a").symlink("/lib", "usr/lib"),
        Layer(compression="zstd").dir("/etc").file("/etc/b", b"b").opaque("/etc").whiteout("/lib"),
    ]
    spec = ImageSpec(layers)
    trees = []
    for fmt in FORMATS:
        with open_image(write_image(spec, tmp_path / fmt, fmt)) as archive:
            trees.append(tree_of(archive.load(archive.images[0]).rootfs))
    assert all(t == trees[0] for t in trees)
    assert list(trees[0]) == ["/etc", "/etc/b"]


def test_index_json_written_by_hand_with_docker_media_types(tmp_path: Path) -> None:
    """A Docker distribution manifest list/manifest (skopeo keeps them) reads the same."""
    root = write_image(ImageSpec([Layer().file("/x", b"x")]), tmp_path / "oci", "oci-layout")
    index = json.loads((root / "index.json").read_text())
    index["manifests"][0]["mediaType"] = "application/vnd.docker.distribution.manifest.v2+json"
    (root / "index.json").write_text(json.dumps(index))
    with open_image(root) as archive:
        assert archive.load(archive.images[0]).rootfs.read_bytes("/x") == b"x"


def test_a_name_on_two_images_is_ambiguous(build_image: Callable[..., Path]) -> None:
    specs = [
        ImageSpec([Layer().file("/who", b"a")], tags=["app:1", "app:latest"]),
        ImageSpec([Layer().file("/who", b"b")], tags=["app:latest"]),
    ]
    with open_image(build_image(specs, "docker-archive")) as archive:
        with pytest.raises(SelectionError) as err:
            archive.select(name="app")
        assert str(err.value) == "'app' names 2 images: app:1, app:latest"
        (ref,) = archive.select(name="app:1")
        assert archive.load(ref).rootfs.read_bytes("/who") == b"a"


def test_platforms_listed_but_not_carried_are_skipped(build_image: Callable[..., Path]) -> None:
    """``docker save`` (containerd store) keeps the full index, blobs of pulled platforms only."""
    root = build_image(_multi(), "oci-layout", tags=["app:1"], index="nested")
    with open_image(root) as archive:
        arm = next(r for r in archive.images if r.platform == ARM64)
    (root / "blobs" / "sha256" / arm.digest.removeprefix("sha256:")).unlink()
    with open_image(root) as archive:
        assert [r.platform for r in archive.images] == [AMD64]
        with pytest.raises(SelectionError, match="no image for platform linux/arm64; available"):
            archive.select(platform=Platform.parse("linux/arm64"))


@pytest.mark.parametrize("kind", ["pipe", "buffered-object"])
def test_stream_spool_is_capped(tmp_path: Path, kind: str) -> None:
    """Both spool paths (splice from a pipe, read from any object) honour the cap."""
    spec = ImageSpec([Layer().file("/big", _incompressible(3 << 20))])
    data = write_image(spec, tmp_path / "a.tar", "docker-archive").read_bytes()
    limits = Limits(max_input_bytes=1 << 20)
    if kind == "buffered-object":
        with pytest.raises(ImageFormatError, match=r"^<stdin>: more than 1048576 bytes$"):
            open_image(io.BytesIO(data), limits=limits)
        with open_image(io.BytesIO(data)) as archive:  # and without the cap, it reads
            assert archive.load(archive.images[0]).rootfs.read_bytes("/big", limit=4)
        return
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with open(write_fd, "wb") as w, contextlib.suppress(BrokenPipeError):
            w.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with open(read_fd, "rb") as r, pytest.raises(ImageFormatError, match="more than 1048576"):
        open_image(r, limits=limits)
    writer.join()
