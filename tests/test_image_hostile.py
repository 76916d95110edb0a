"""Hostile and broken input: every case is one LinkcheckError with a precise message."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import tarfile
from typing import TYPE_CHECKING

import pytest

from linkcheck.errors import ImageFormatError, IntegrityError, UnsafeImageError
from linkcheck.image import Limits, open_image
from tests.support.imagebuilder import CompressionName, ImageSpec, Layer, write_image

if TYPE_CHECKING:
    from pathlib import Path


def _load_tree(path: Path, limits: Limits | None = None) -> int:
    with open_image(path, limits=limits) as archive:
        return len(archive.load(archive.images[0]).rootfs)


def _blobs(root: Path) -> dict[str, Path]:
    return {p.name: p for p in (root / "blobs" / "sha256").iterdir()}


def _manifest(root: Path) -> dict[str, object]:
    index = json.loads((root / "index.json").read_text())
    digest = index["manifests"][0]["digest"].removeprefix("sha256:")
    return json.loads((root / "blobs" / "sha256" / digest).read_bytes())  # type: ignore[no-any-return]


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _good(tmp_path: Path, compression: CompressionName = "plain") -> Path:
    layers = [
        Layer().dir("/bin").file("/bin/app", b"\x7fELF" + bytes(4000)),
        Layer().file("/etc-file", b"x" * 3000),
    ]
    spec = ImageSpec(layers, entrypoint=["/bin/app"])
    return write_image(spec, tmp_path / f"good-{compression}", "oci-layout",
                       layer_compression=compression)  # fmt: skip


@pytest.mark.parametrize("compression", ["plain", "gzip", "zstd"])
@pytest.mark.parametrize("where", ["head", "middle", "tail"])
def test_flipped_layer_byte_names_the_blob(
    tmp_path: Path, compression: CompressionName, where: str
) -> None:
    root = _good(tmp_path, compression)
    layer = _manifest(root)["layers"][1]  # type: ignore[index]
    blob = root / "blobs" / "sha256" / layer["digest"].removeprefix("sha256:")
    size = blob.stat().st_size
    _flip(blob, {"head": 20, "middle": size // 2, "tail": size - 5}[where])
    with pytest.raises(IntegrityError) as err:
        _load_tree(root)
    digest = layer["digest"]
    assert str(err.value).startswith(f"layer 1 ({digest[:19]}...): blob {digest} has digest ")


def test_flipped_config_byte_names_the_blob(tmp_path: Path) -> None:
    root = _good(tmp_path)
    config = _manifest(root)["config"]["digest"]  # type: ignore[index]
    _flip(root / "blobs" / "sha256" / config.removeprefix("sha256:"), 10)
    with open_image(root) as archive, pytest.raises(IntegrityError) as err:
        archive.load(archive.images[0])
    assert str(err.value).startswith(f"blob {config} has digest sha256:")


def test_flipped_manifest_byte_names_the_blob(tmp_path: Path) -> None:
    root = _good(tmp_path)
    digest = json.loads((root / "index.json").read_text())["manifests"][0]["digest"]
    _flip(root / "blobs" / "sha256" / digest.removeprefix("sha256:"), 5)
    with pytest.raises(IntegrityError, match=re.escape(f"blob {digest} has digest")):
        open_image(root)


def test_legacy_docker_archive_layer_checked_against_diff_id(tmp_path: Path) -> None:
    spec = ImageSpec([Layer().file("/a", b"a" * 5000)])
    path = write_image(spec, tmp_path / "d.tar", "docker-archive")
    data = bytearray(path.read_bytes())
    spot = data.find(b"a" * 5000)
    data[spot + 100] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(
        IntegrityError, match=r"^layer 0 \(sha256:.*\): .*but the config's diff_id is"
    ):
        _load_tree(path)


def test_descriptor_size_mismatch(tmp_path: Path) -> None:
    root = _good(tmp_path, "gzip")
    layer = _manifest(root)["layers"][0]  # type: ignore[index]
    blob = root / "blobs" / "sha256" / layer["digest"].removeprefix("sha256:")
    blob.write_bytes(blob.read_bytes()[:-10])
    with open_image(root) as archive, pytest.raises(IntegrityError) as err:
        archive.load(archive.images[0])
    assert str(err.value) == (
        f"layer 0: blob {layer['digest']} has {layer['size'] - 10} bytes,"
        f" its descriptor says {layer['size']}"
    )


def _member_span(path: Path, suffix: str) -> tuple[int, int]:
    with tarfile.open(path) as tar:
        for info in tar:
            if info.isreg() and info.size > 10000 and info.name.endswith(suffix):
                return info.offset_data, info.size
    raise AssertionError("no big member")


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive"])
@pytest.mark.parametrize("cut", ["header", "start", "middle", "last-byte"])
def test_truncated_archive(tmp_path: Path, fmt: str, cut: str) -> None:
    spec = ImageSpec([Layer(compression="gzip").file("/a", os.urandom(20000))])
    path = write_image(spec, tmp_path / "o.tar", fmt)  # type: ignore[arg-type]
    start, size = _member_span(path, "")
    end = {"header": start - 100, "start": start + 1, "middle": start + size // 2,
           "last-byte": start + size - 1}[cut]  # fmt: skip
    path.write_bytes(path.read_bytes()[:end])
    with pytest.raises(ImageFormatError, match=r"truncated|not a readable tar archive"):
        _load_tree(path)


def _raw_layer_image(tmp_path: Path, layer: Layer) -> tuple[Path, str]:
    root = write_image(ImageSpec([Layer().file("/ok", b"ok"), layer]), tmp_path / "r", "oci-layout")
    digest = _manifest(root)["layers"][1]["digest"]  # type: ignore[index]
    return root, digest


@pytest.mark.parametrize(
    ("member", "shown"),
    [
        (Layer().raw("../etc/passwd", data=b"x"), "unsafe tar path '../etc/passwd'"),
        (Layer().raw("a/../../x"), "unsafe tar path 'a/../../x'"),
        (Layer().raw("/etc/shadow"), "unsafe tar path '/etc/shadow'"),
        (Layer().raw("x", tar_type=tarfile.LNKTYPE, linkname="../../etc/passwd"),
         "unsafe tar path '../../etc/passwd'"),
        (Layer().raw("dir/.wh."), "whiteout with an empty name '/dir/.wh.'"),
        (Layer().raw(".wh..."), "whiteout with an empty name '/.wh...'"),
        (Layer().raw("a/" * 3000), "tar path of 6000 bytes (limit 4096)"),
        (Layer().raw("l", tar_type=tarfile.SYMTYPE, linkname="x" * 5000),
         "symlink '/l' target over 4096 bytes"),
    ],
    ids=["dotdot", "inner-dotdot", "absolute", "hardlink-escape", "empty-whiteout",
         "whiteout-dotdot", "long-path", "long-link"],
)  # fmt: skip
def test_unsafe_member(tmp_path: Path, member: Layer, shown: str) -> None:
    root, digest = _raw_layer_image(tmp_path, member)
    with pytest.raises(UnsafeImageError) as err:
        _load_tree(root)
    assert str(err.value) == f"layer 1 ({digest[:19]}...): {shown}"


def test_hardlink_to_missing_target(tmp_path: Path) -> None:
    root, digest = _raw_layer_image(tmp_path, Layer().hardlink("/x", "/nope"))
    with pytest.raises(ImageFormatError) as err:
        _load_tree(root)
    assert str(err.value) == f"layer 1 ({digest[:19]}...): hardlink '/x' points to missing '/nope'"


def test_decompression_bomb(tmp_path: Path) -> None:
    spec = ImageSpec([Layer().file("/zeros", bytes(8 << 20))])
    root = write_image(spec, tmp_path / "bomb", "oci-layout", layer_compression="gzip")
    assert sum(p.stat().st_size for p in _blobs(root).values()) < 100_000  # ~1000:1
    with pytest.raises(UnsafeImageError, match=r"more than 1048576 uncompressed bytes"):
        _load_tree(root, Limits(max_uncompressed_bytes=1 << 20))
    assert _load_tree(root) == 2  # the default limit (64 GiB) lets it through


def test_outer_gzip_bomb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(bytes(4 << 20)))
    with pytest.raises(ImageFormatError, match=r"inflates to more than 1048576 bytes"):
        open_image(bomb, limits=Limits(max_uncompressed_bytes=1 << 20))


def test_entry_count_cap(tmp_path: Path) -> None:
    layer = Layer()
    for i in range(50):
        layer.file(f"/f{i}", b"")
    root = write_image(ImageSpec([layer]), tmp_path / "many", "oci-layout")
    with pytest.raises(UnsafeImageError, match=r"more than 20 files in the image"):
        _load_tree(root, Limits(max_entries=20))


@pytest.mark.parametrize(
    ("content", "error", "message"),
    [
        (b"{", ImageFormatError, r"^index\.json: malformed JSON"),
        (b"[]", ImageFormatError, r"^index\.json: expected a JSON object, got list"),
        (b'{"manifests": {}}', ImageFormatError, r"'manifests' must be a list"),
        (b'{"manifests": [{"digest": "sha256:zz", "size": 1}]}', ImageFormatError,
         r"invalid digest 'sha256:zz'"),
        (b'{"manifests": [{"digest": "sha256:' + b"a" * 64 + b'", "size": -1}]}',
         ImageFormatError, r"descriptor size must be a non-negative integer"),
        (b" " * (4 << 20) + b"{}", UnsafeImageError, r"over the 4194304-byte JSON limit"),
        (b"[" * 100000 + b"]" * 100000, ImageFormatError, r"malformed JSON"),
    ],
    ids=["truncated", "not-object", "wrong-type", "bad-digest", "negative-size", "oversized",
         "deep-nesting"],
)  # fmt: skip
def test_bad_index_json(
    tmp_path: Path, content: bytes, error: type[Exception], message: str
) -> None:
    root = _good(tmp_path)
    (root / "index.json").write_bytes(content)
    with pytest.raises(error, match=message):
        open_image(root)


def test_self_referencing_index_stops(tmp_path: Path) -> None:
    root = _good(tmp_path)
    # an index blob whose own list points at... an index with the same shape, 10 deep
    desc: dict[str, object] = json.loads((root / "index.json").read_text())["manifests"][0]
    for _ in range(10):
        doc = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
        digest = hashlib.sha256(doc).hexdigest()
        (root / "blobs" / "sha256" / digest).write_bytes(doc)
        desc = {"mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": "sha256:" + digest, "size": len(doc)}  # fmt: skip
    (root / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [desc]}))
    with pytest.raises(ImageFormatError, match=r"image indexes nested more than 8 deep"):
        open_image(root)


def test_missing_blob(tmp_path: Path) -> None:
    root = _good(tmp_path)
    layer = _manifest(root)["layers"][0]  # type: ignore[index]
    (root / "blobs" / "sha256" / layer["digest"].removeprefix("sha256:")).unlink()
    with open_image(root) as archive, pytest.raises(ImageFormatError) as err:
        archive.load(archive.images[0])
    hexdigest = layer["digest"].removeprefix("sha256:")
    assert str(err.value) == f"layer 0: blob blobs/sha256/{hexdigest} is missing"


@pytest.mark.parametrize("link", ["absolute", "relative-escape"])
def test_symlink_out_of_the_layout_is_refused(tmp_path: Path, link: str) -> None:
    root = _good(tmp_path)
    layer = _manifest(root)["layers"][0]  # type: ignore[index]
    blob = root / "blobs" / "sha256" / layer["digest"].removeprefix("sha256:")
    blob.rename(tmp_path / "outside")
    blob.symlink_to(tmp_path / "outside" if link == "absolute" else "../../../outside")
    with (
        open_image(root) as archive,
        pytest.raises(UnsafeImageError, match="links outside the directory"),
    ):
        archive.load(archive.images[0])


def test_unpacked_docker_archive_with_in_directory_links(tmp_path: Path) -> None:
    """``docker save`` links a duplicate layer.tar to another one: followed inside only."""
    spec = ImageSpec([Layer().file("/x", b"x")])
    archive_path = write_image(spec, tmp_path / "d.tar", "docker-archive", tags=["d:1"])
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive_path) as tar:
        tar.extractall(unpacked, filter="data")
    (layer_tar,) = unpacked.glob("*/layer.tar")
    layer_tar.rename(unpacked / "shared.tar")
    layer_tar.symlink_to("../shared.tar")
    with open_image(unpacked) as archive:
        assert archive.load(archive.images[0]).rootfs.read_bytes("/x") == b"x"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.mkdir(), r"not an OCI layout directory \(no oci-layout\) nor an unpacked"),
        (lambda p: p.write_bytes(b""), r"not a readable tar archive"),
        (lambda p: p.write_bytes(os.urandom(3000)), r"not a readable tar archive"),
        (lambda p: os.mkfifo(p), r"a named pipe; give an image tarball or directory, or -"),
        (lambda p: None, r"cannot read .*: No such file or directory"),
    ],
    ids=["empty-dir", "empty-file", "random-bytes", "fifo", "missing"],
)  # fmt: skip
def test_not_an_image(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "input"
    make(path)  # type: ignore[operator]
    with pytest.raises(ImageFormatError, match=message):
        open_image(path)


def test_tarball_without_image_files(tmp_path: Path) -> None:
    path = tmp_path / "plain.tar"
    with tarfile.open(path, "w") as tar:
        tar.addfile(tarfile.TarInfo("hello"))
    with pytest.raises(ImageFormatError, match=r"not an image \(no index\.json/oci-layout"):
        open_image(path)


def test_nothing_leaks_into_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    root = _good(tmp_path, "gzip")
    with open_image(root) as archive:
        image = archive.load(archive.images[0])
        assert image.rootfs.read_bytes("/etc-file") == b"x" * 3000
        assert len(list(scratch.iterdir())) == 1  # the archive's own temporary directory
    with pytest.raises(ImageFormatError):
        open_image(tmp_path / "missing")
    assert list(scratch.iterdir()) == []


@pytest.mark.parametrize("fmt", ["oci-archive", "docker-archive", "docker-hybrid"])
def test_mutated_bytes_only_ever_give_linkcheck_errors(tmp_path: Path, fmt: str) -> None:
    """Random byte changes and cuts: each read ends in success or one LinkcheckError.

    Seeded, so a failure reproduces; this is how isal's IsalError (a bad deflate block,
    not an OSError) was found escaping as a traceback.
    """
    import random

    from linkcheck.errors import LinkcheckError

    layers = [
        Layer().dir("/a").file("/a/x", b"\x7fELF" + bytes(300)).symlink("/l", "a"),
        Layer(compression="gzip").whiteout("/a/x").file("/b", b"#!/bin/sh\n" + bytes(9000)),
        Layer(compression="zstd").file("/c", b"c" * 5000).hardlink("/h", "/b"),
    ]
    good = write_image(ImageSpec(layers), tmp_path / "good.tar", fmt, tags=["a:1"]).read_bytes()  # type: ignore[arg-type]
    rng = random.Random(1)
    outcomes: set[str] = set()
    for _ in range(150):
        data = bytearray(good)
        for _ in range(rng.choice([1, 1, 2, 8])):
            data[rng.randrange(len(data))] = rng.randrange(256)
        if rng.random() < 0.1:
            data = data[: rng.randrange(len(data))]
        path = tmp_path / "mutated.tar"
        path.write_bytes(bytes(data))
        try:
            with open_image(path) as archive:
                for ref in archive.images:
                    rootfs = archive.load(ref).rootfs
                    for entry in rootfs.walk():
                        if entry.type.value == "file":
                            rootfs.read_bytes(entry.path)
            outcomes.add("ok")
        except LinkcheckError as e:
            outcomes.add(type(e).__name__)
    assert outcomes == {"ok", "ImageFormatError", "IntegrityError"}
