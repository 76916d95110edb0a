"""Test image builder: write every image format from a few lines of Python.

Only ``tarfile``, ``json``, ``hashlib`` (and gzip/zstandard for compressed layers): the bytes
are what ``docker save``, ``skopeo copy`` and BuildKit write, so the reader is tested on real
shapes, and tests can flip bytes of the result for the negative cases.

Usage::

    from tests.support.imagebuilder import ImageSpec, Layer, expected_tree, tree_of, write_image

    base = Layer().dir("/usr").dir("/usr/bin").file("/usr/bin/app", b"\\x7fELF...", mode=0o755)
    top = Layer(compression="zstd").symlink("/bin", "usr/bin").whiteout("/usr/bin/old")
    spec = ImageSpec(layers=[base, top], entrypoint=["/bin/app"], platform="linux/arm64")
    path = write_image(spec, tmp_path / "app.tar", "docker-archive", tags=["app:latest"])
    with open_image(path) as archive:
        image = archive.load(archive.select()[0])
        assert tree_of(image.rootfs) == expected_tree(spec)

Formats: ``"docker-archive"`` (legacy ``manifest.json`` + ``<id>/layer.tar`` +
``repositories``), ``"docker-hybrid"`` (Docker 25+: OCI layout *and* ``manifest.json``),
``"oci-archive"`` (a tar of an OCI layout), ``"oci-layout"`` (a directory). Several specs in
one call make a multi-platform index (``index="nested"`` puts an image index between
``index.json`` and the manifests; ``attestation=True`` adds BuildKit-style attestation
manifests) or, with distinct ``ImageSpec.tags``, several images in one archive.

The fixture ``build_image(spec, fmt="oci-layout", **kw)`` writes into ``tmp_path``.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import posixpath
import shutil
import stat
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import pytest
import zstandard

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from linkcheck.model import FileSystem

__all__ = [
    "FORMATS",
    "CompressionName",
    "ExpectedNode",
    "Format",
    "ImageSpec",
    "Layer",
    "build_image",
    "expected_tree",
    "tree_of",
    "write_image",
]

Format = Literal["docker-archive", "docker-hybrid", "oci-archive", "oci-layout"]
FORMATS: tuple[Format, ...] = ("docker-archive", "docker-hybrid", "oci-archive", "oci-layout")
CompressionName = Literal["plain", "gzip", "zstd"]
Kind = Literal["file", "dir", "symlink", "hardlink", "fifo", "char", "block", "raw"]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER_TYPES = {
    "plain": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
MTIME = 1_700_000_000
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_TAR_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
}


@dataclass(frozen=True)
class Entry:
    """One tar member. ``name`` is written verbatim (hostile names included)."""

    name: str
    kind: Kind
    data: bytes | Path = b""  # a Path is read at write time (add_tree: big trees)
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    linkname: str = ""
    tar_type: bytes = tarfile.REGTYPE  # only for kind="raw"
    devmajor: int = 0
    devminor: int = 0

    @property
    def path(self) -> str:
        """The in-image path ("/usr/bin/app") for a well-formed name."""
        return posixpath.normpath("/" + self.name)

    def size(self) -> int:
        if self.kind not in ("file", "raw"):
            return 0
        return self.data.stat().st_size if isinstance(self.data, Path) else len(self.data)


def _name(path: str) -> str:
    return path.lstrip("/")


class Layer:
    """A layer as an ordered list of tar members; every method returns ``self``."""

    def __init__(
        self,
        *,
        compression: CompressionName | None = None,
        media_type: str | None = None,
    ) -> None:
        self.entries: list[Entry] = []
        self.compression = compression  # None: write_image's layer_compression
        self.media_type = media_type  # a lie on purpose, e.g. "...tar+gzip" on a zstd blob

    def file(
        self, path: str, data: bytes | str = b"", *, mode: int = 0o755, uid: int = 0, gid: int = 0
    ) -> Layer:
        raw = data.encode() if isinstance(data, str) else data
        self.entries.append(Entry(_name(path), "file", raw, mode, uid, gid))
        return self

    def dir(self, path: str, *, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Layer:
        self.entries.append(Entry(_name(path), "dir", mode=mode, uid=uid, gid=gid))
        return self

    def symlink(self, path: str, target: str, *, uid: int = 0, gid: int = 0) -> Layer:
        self.entries.append(
            Entry(_name(path), "symlink", mode=0o777, uid=uid, gid=gid, linkname=target)
        )
        return self

    def hardlink(self, path: str, target: str) -> Layer:
        """A tar hardlink (type 1) to ``target``, an in-image path written as a tar name."""
        self.entries.append(Entry(_name(path), "hardlink", linkname=_name(target)))
        return self

    def fifo(self, path: str, *, mode: int = 0o644) -> Layer:
        self.entries.append(Entry(_name(path), "fifo", mode=mode))
        return self

    def device(self, path: str, *, char: bool = True, major: int = 1, minor: int = 3) -> Layer:
        kind: Kind = "char" if char else "block"
        self.entries.append(Entry(_name(path), kind, mode=0o666, devmajor=major, devminor=minor))
        return self

    def whiteout(self, path: str) -> Layer:
        """``dir/.wh.name``: delete ``path`` from lower layers."""
        parent, base = posixpath.split(_name(path))
        self.entries.append(Entry(posixpath.join(parent, ".wh." + base), "file", mode=0o644))
        return self

    def opaque(self, directory: str) -> Layer:
        """``dir/.wh..wh..opq``: hide everything lower layers put below ``directory``."""
        name = posixpath.join(_name(directory), ".wh..wh..opq")
        self.entries.append(Entry(name, "file", mode=0o644))
        return self

    def raw(
        self,
        name: str,
        *,
        tar_type: bytes = tarfile.REGTYPE,
        data: bytes = b"",
        linkname: str = "",
        mode: int = 0o644,
    ) -> Layer:
        """A member exactly as given: ``../etc/passwd``, ``/abs``, ``.wh.`` ... (hostile)."""
        self.entries.append(Entry(name, "raw", data, mode, linkname=linkname, tar_type=tar_type))
        return self

    def add_tree(self, host_dir: Path | str, prefix: str = "/") -> Layer:
        """Copy a real directory (modes, symlinks, hardlinks kept) below ``prefix``."""
        root = Path(host_dir)
        seen: dict[tuple[int, int], str] = {}
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            here = Path(dirpath)
            rel_dir = here.relative_to(root).as_posix()
            base = posixpath.normpath(posixpath.join(prefix, rel_dir))
            if rel_dir != "." or prefix != "/":
                self._host_entry(here, base, seen)
            for name in sorted(filenames + [d for d in dirnames if (here / d).is_symlink()]):
                self._host_entry(here / name, posixpath.join(base, name), seen)
        return self

    def _host_entry(self, host: Path, path: str, seen: dict[tuple[int, int], str]) -> None:
        st = host.lstat()
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
        if stat.S_ISLNK(st.st_mode):
            self.symlink(path, os.readlink(host), uid=uid, gid=gid)
        elif stat.S_ISDIR(st.st_mode):
            self.dir(path, mode=mode, uid=uid, gid=gid)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in seen:
                self.hardlink(path, seen[key])
                return
            seen[key] = path
            self.entries.append(Entry(_name(path), "file", host, mode, uid, gid))

    # -- writing ----------------------------------------------------------------------------

    def write_tar(self, out: BinaryIO) -> None:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for entry in self.entries:
                info = tarfile.TarInfo(entry.name)
                info.type = entry.tar_type if entry.kind == "raw" else _TAR_TYPES[entry.kind]
                info.mode, info.uid, info.gid = entry.mode, entry.uid, entry.gid
                info.mtime, info.linkname = MTIME, entry.linkname
                info.devmajor, info.devminor = entry.devmajor, entry.devminor
                info.size = entry.size() if info.type in (tarfile.REGTYPE, b"7") else 0
                if isinstance(entry.data, Path):
                    with entry.data.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info, io.BytesIO(entry.data) if info.size else None)

    def tar_bytes(self) -> bytes:
        out = io.BytesIO()
        self.write_tar(out)
        return out.getvalue()


@dataclass
class ImageSpec:
    layers: Sequence[Layer]
    entrypoint: Sequence[str] | None = None
    cmd: Sequence[str] | None = None
    env: Sequence[str] = (DEFAULT_PATH,)
    working_dir: str = ""
    user: str = ""
    platform: str = "linux/amd64"
    labels: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()  # this image's names; else write_image's ``tags``

    def config(self, diff_ids: Sequence[str]) -> dict[str, object]:
        parts = self.platform.split("/")
        inner: dict[str, object] = {"Env": list(self.env)}
        if self.entrypoint is not None:
            inner["Entrypoint"] = list(self.entrypoint)
        if self.cmd is not None:
            inner["Cmd"] = list(self.cmd)
        if self.working_dir:
            inner["WorkingDir"] = self.working_dir
        if self.user:
            inner["User"] = self.user
        if self.labels:
            inner["Labels"] = dict(self.labels)
        doc: dict[str, object] = {
            "architecture": parts[1],
            "os": parts[0],
            "config": inner,
            "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
            "created": "2023-11-14T22:13:20Z",
        }
        if len(parts) == 3:
            doc["variant"] = parts[2]
        return doc


# -- blobs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Blob:
    path: Path  # in the staging directory
    digest: str
    size: int
    diff_id: str
    media_type: str


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class _Staging:
    """Blobs written once into a staging directory, named by digest."""

    def __init__(self, root: Path, compression: CompressionName, gzip_level: int) -> None:
        self.root = root
        self.compression = compression
        self.gzip_level = gzip_level
        self.blobs: dict[str, Path] = {}
        self._layers: dict[int, _Blob] = {}

    def add_bytes(self, data: bytes) -> tuple[str, int]:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.root / digest.replace(":", "-")
        path.write_bytes(data)
        self.blobs[digest] = path
        return digest, len(data)

    def add_json(self, doc: object) -> tuple[str, int]:
        return self.add_bytes(json.dumps(doc, separators=(",", ":")).encode())

    def layer(self, layer: Layer) -> _Blob:
        if id(layer) in self._layers:
            return self._layers[id(layer)]
        plain = self.root / f"layer-{len(self._layers)}.tar"
        with plain.open("wb") as f:
            layer.write_tar(f)
        diff_id = _sha256_file(plain)
        compression = layer.compression or self.compression
        blob_path = plain
        if compression != "plain":
            blob_path = plain.with_suffix(f".tar.{compression}")
            with plain.open("rb") as src, blob_path.open("wb") as dst:
                if compression == "gzip":
                    with gzip.GzipFile(
                        fileobj=dst, mode="wb", compresslevel=self.gzip_level, mtime=0
                    ) as gz:
                        shutil.copyfileobj(src, gz, 1 << 20)
                else:
                    zstandard.ZstdCompressor(level=3).copy_stream(src, dst)
            plain.unlink()
        digest = _sha256_file(blob_path)
        self.blobs[digest] = blob_path
        media_type = layer.media_type or LAYER_TYPES[compression]
        blob = _Blob(blob_path, digest, blob_path.stat().st_size, diff_id, media_type)
        self._layers[id(layer)] = blob
        return blob


@dataclass(frozen=True)
class _Built:
    spec: ImageSpec
    tags: tuple[str, ...]
    config: tuple[str, int]
    manifest: tuple[str, int]
    layers: tuple[_Blob, ...]


def _platform(spec: ImageSpec) -> dict[str, str]:
    parts = spec.platform.split("/")
    out = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        out["variant"] = parts[2]
    return out


def _build(stage: _Staging, spec: ImageSpec, tags: tuple[str, ...]) -> _Built:
    layers = tuple(stage.layer(layer) for layer in spec.layers)
    config = stage.add_json(spec.config([b.diff_id for b in layers]))
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
        "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in layers],
    }
    return _Built(spec, tags, config, stage.add_json(manifest_doc), layers)


def _attestation(stage: _Staging, image: _Built) -> dict[str, object]:
    statement = stage.add_json({"_type": "https://in-toto.io/Statement/v0.1", "subject": []})
    config = stage.add_json(
        {
            "architecture": "unknown",
            "os": "unknown",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [statement[0]]},
        }
    )
    manifest = stage.add_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config[0], "size": config[1]},
            "layers": [
                {
                    "mediaType": "application/vnd.in-toto+json",
                    "digest": statement[0],
                    "size": statement[1],
                    "annotations": {
                        "in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"
                    },
                }
            ],
        }
    )
    return {
        "mediaType": OCI_MANIFEST,
        "digest": manifest[0],
        "size": manifest[1],
        "platform": {"architecture": "unknown", "os": "unknown"},
        "annotations": {
            "vnd.docker.reference.digest": image.manifest[0],
            "vnd.docker.reference.type": "attestation-manifest",
        },
    }


def _ref_annotations(tag: str, hybrid: bool) -> dict[str, str]:
    if hybrid:  # what Docker 25+ writes
        return {
            "io.containerd.image.name": tag,
            "org.opencontainers.image.ref.name": tag.rsplit(":", 1)[-1],
        }
    return {"org.opencontainers.image.ref.name": tag}


def _oci_index(
    stage: _Staging, built: Sequence[_Built], *, nested: bool, attestation: bool, hybrid: bool
) -> dict[str, object]:
    descriptors: list[dict[str, object]] = []
    for image in built:
        desc: dict[str, object] = {
            "mediaType": OCI_MANIFEST,
            "digest": image.manifest[0],
            "size": image.manifest[1],
            "platform": _platform(image.spec),
        }
        if nested or not image.tags:
            descriptors.append(desc)
        for tag in () if nested else image.tags:
            descriptors.append({**desc, "annotations": _ref_annotations(tag, hybrid)})
        if attestation:
            descriptors.append(_attestation(stage, image))
    if nested:
        inner = stage.add_json(
            {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}
        )
        tags = built[0].tags
        top: dict[str, object] = {"mediaType": OCI_INDEX, "digest": inner[0], "size": inner[1]}
        descriptors = [{**top, "annotations": _ref_annotations(t, hybrid)} for t in tags] or [top]
    return {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": descriptors}


def _write_oci(stage: _Staging, built: Sequence[_Built], root: Path, **kw: bool) -> None:
    index = _oci_index(stage, built, **kw)
    (root / "blobs" / "sha256").mkdir(parents=True)
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    (root / "index.json").write_text(json.dumps(index))
    for digest, path in stage.blobs.items():
        shutil.copyfile(path, root / "blobs" / "sha256" / digest.removeprefix("sha256:"))


def _write_docker(built: Sequence[_Built], root: Path, *, hybrid: bool, stage: _Staging) -> None:
    manifest: list[dict[str, object]] = []
    repositories: dict[str, dict[str, str]] = {}
    for image in built:
        if hybrid:
            config_name = "blobs/sha256/" + image.config[0].removeprefix("sha256:")
            layer_names = ["blobs/sha256/" + b.digest.removeprefix("sha256:") for b in image.layers]
        else:
            config_name = image.config[0].removeprefix("sha256:") + ".json"
            shutil.copyfile(stage.blobs[image.config[0]], root / config_name)
            layer_names = []
            for blob in image.layers:
                layer_id = blob.digest.removeprefix("sha256:")
                (root / layer_id).mkdir(exist_ok=True)
                shutil.copyfile(blob.path, root / layer_id / "layer.tar")
                (root / layer_id / "VERSION").write_text("1.0")
                (root / layer_id / "json").write_text(json.dumps({"id": layer_id}))
                layer_names.append(f"{layer_id}/layer.tar")
        manifest.append(
            {"Config": config_name, "RepoTags": list(image.tags) or None, "Layers": layer_names}
        )
        top = image.layers[-1].digest.removeprefix("sha256:") if image.layers else ""
        for tag in image.tags:
            repo, _, version = tag.rpartition(":")
            repositories.setdefault(repo, {})[version] = top
    (root / "manifest.json").write_text(json.dumps(manifest))
    if repositories:
        (root / "repositories").write_text(json.dumps(repositories))


def _tar_directory(root: Path, dest: Path) -> None:
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(root.rglob("*")):
            info = tar.gettarinfo(path, path.relative_to(root).as_posix())
            info.mtime, info.uid, info.gid, info.uname, info.gname = MTIME, 0, 0, "", ""
            if info.isreg():
                with path.open("rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)


def write_image(
    specs: ImageSpec | Sequence[ImageSpec],
    dest: Path,
    fmt: Format = "oci-layout",
    *,
    tags: Sequence[str] = (),
    layer_compression: CompressionName = "plain",
    index: Literal["flat", "nested"] = "flat",
    attestation: bool = False,
    gzip_level: int = 6,
) -> Path:
    """Write ``specs`` to ``dest`` (a directory for ``oci-layout``, else a tarball)."""
    spec_list = [specs] if isinstance(specs, ImageSpec) else list(specs)
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="imagebuilder-") as tmp:
        stage_dir, tree = Path(tmp) / "stage", Path(tmp) / "tree"
        stage_dir.mkdir()
        tree.mkdir()
        stage = _Staging(stage_dir, layer_compression, gzip_level)
        built = [_build(stage, s, tuple(s.tags) or tuple(tags)) for s in spec_list]
        hybrid = fmt == "docker-hybrid"
        if fmt != "docker-archive":
            _write_oci(
                stage, built, tree, nested=index == "nested", attestation=attestation, hybrid=hybrid
            )
        if fmt.startswith("docker"):
            _write_docker(built, tree, hybrid=hybrid, stage=stage)
        if fmt == "oci-layout":
            shutil.copytree(tree, dest)
        else:
            _tar_directory(tree, dest)
    return dest


# -- the expected merged tree --------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedNode:
    """A merged-tree node as tests compare it (``type`` is a FileType value)."""

    type: str
    mode: int
    uid: int
    gid: int
    linkname: str | None = None
    sha256: str | None = None  # content of regular files


def _content_hash(entry: Entry) -> str:
    if isinstance(entry.data, Path):
        return _sha256_file(entry.data).removeprefix("sha256:")
    return hashlib.sha256(entry.data).hexdigest()


def _node(entry: Entry) -> ExpectedNode:
    if entry.kind == "file":
        return ExpectedNode("file", entry.mode, entry.uid, entry.gid, None, _content_hash(entry))
    if entry.kind == "symlink":
        return ExpectedNode("symlink", entry.mode, entry.uid, entry.gid, entry.linkname)
    return ExpectedNode(entry.kind, entry.mode, entry.uid, entry.gid)


def _remove(tree: dict[str, ExpectedNode], path: str, *, keep_self: bool = False) -> None:
    for other in [p for p in tree if p.startswith(path.rstrip("/") + "/")]:
        del tree[other]
    if not keep_self:
        tree.pop(path, None)


def expected_tree(spec: ImageSpec) -> dict[str, ExpectedNode]:
    """The merged tree by the OCI rules, computed the textbook way (two passes per layer).

    Per layer: first every whiteout/opaque marker deletes from the layers below, then the
    layer's entries are added in tar order (a directory over a directory merges metadata,
    anything else replaces the whole subtree; a hardlink copies its target as it is then).
    Missing parents become 0755 root directories. The root "/" is not included.
    """
    tree: dict[str, ExpectedNode] = {}
    for layer in spec.layers:
        for entry in layer.entries:
            parent, base = posixpath.split(entry.path)
            if base == ".wh..wh..opq":
                _remove(tree, parent, keep_self=True)
            elif base.startswith(".wh."):
                _remove(tree, posixpath.join(parent, base[4:]))
        for entry in layer.entries:
            if posixpath.basename(entry.path).startswith(".wh.") or entry.path == "/":
                continue
            _add_parents(tree, posixpath.dirname(entry.path))
            old = tree.get(entry.path)
            node = tree["/" + entry.linkname] if entry.kind == "hardlink" else _node(entry)
            if not (old and old.type == "dir" and node.type == "dir"):
                _remove(tree, entry.path)
            tree[entry.path] = node
    return tree


def _add_parents(tree: dict[str, ExpectedNode], directory: str) -> None:
    parts = [p for p in directory.split("/") if p]
    for i in range(1, len(parts) + 1):
        path = "/" + "/".join(parts[:i])
        if path in tree and tree[path].type == "dir":
            continue
        _remove(tree, path)
        tree[path] = ExpectedNode("dir", 0o755, 0, 0)


def tree_of(fs: FileSystem, *, with_owner: bool = True) -> dict[str, ExpectedNode]:
    """Any FileSystem (image rootfs, DirFileSystem) as ``{path: ExpectedNode}``, without "/"."""
    out: dict[str, ExpectedNode] = {}
    for entry in fs.walk():
        if entry.path == "/":
            continue
        digest = None
        if entry.type.value == "file":
            h = hashlib.sha256()
            with fs.open(entry.path) as f:
                while chunk := f.read(1 << 20):
                    h.update(chunk)
            digest = h.hexdigest()
        uid, gid = (entry.uid, entry.gid) if with_owner else (0, 0)
        out[entry.path] = ExpectedNode(
            entry.type.value, entry.mode, uid, gid, entry.linkname, digest
        )
    return out


def iter_blobs(image: Path) -> Iterator[Path]:
    """The blob files of an ``oci-layout`` directory (for byte-flipping tests)."""
    yield from sorted((image / "blobs" / "sha256").iterdir())


@pytest.fixture
def build_image(tmp_path: Path) -> Callable[..., Path]:
    """``build_image(spec_or_specs, fmt="oci-layout", **write_image_kwargs) -> Path``."""
    counter = iter(range(1_000_000))

    def build(
        specs: ImageSpec | Sequence[ImageSpec], fmt: Format = "oci-layout", **kw: object
    ) -> Path:
        suffix = "" if fmt == "oci-layout" else ".tar"
        dest = tmp_path / f"image-{next(counter)}-{fmt}{suffix}"
        return write_image(specs, dest, fmt, **kw)  # type: ignore[arg-type]

    return build
