"""The public entry point: :func:`open_image` and the types it hands out.

An :class:`ImageArchive` owns a :class:`tempfile.TemporaryDirectory` (a spooled stdin, a
decompressed outer tarball, the content store) and every descriptor it opened; all of it goes
away with the ``with`` block. Nothing from the image is ever written to the host under a name
the image chose: the content store is one opaque temp file indexed by offset.
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from linkcheck.errors import ImageFormatError, IntegrityError, SelectionError
from linkcheck.image._container import Container, DirContainer, TarContainer
from linkcheck.image._io import CHUNK, Compression, sniff_compression
from linkcheck.image._tar import Budget
from linkcheck.image.formats import ImagePlan, discover, parse_config, read_json
from linkcheck.image.layers import (
    STREAM_ERRORS,
    ContentStore,
    LayerBlob,
    apply_layer,
    decompressed_reader,
    read_deferred,
)
from linkcheck.image.rootfs import Deferred, ImageRootFS, Stored

if TYPE_CHECKING:
    from types import TracebackType

    from linkcheck.model import ImageConfig, Platform

__all__ = ["ImageArchive", "ImageRef", "LayerInfo", "Limits", "LoadedImage", "open_image"]

# docker-archive records no media type: name the Docker one matching the sniffed bytes
_LEGACY_LAYER_TYPES = {
    Compression.NONE: "application/vnd.docker.image.rootfs.diff.tar",
    Compression.GZIP: "application/vnd.docker.image.rootfs.diff.tar.gzip",
    Compression.ZSTD: "application/vnd.docker.image.rootfs.diff.tar.zstd",
}


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps against hostile input; raise them only for images you trust to be that big.

    ``max_uncompressed_bytes`` bounds the bytes inflated for one image's layers (and for a
    compressed outer tarball): a gzip bomb expands ~1000x, so a ratio cap would still allow
    terabytes from a large blob; an absolute cap of 64 GiB is far above real images (the
    largest public ones are ~20 GB) and stops a bomb after a bounded amount of work.
    """

    max_json_bytes: int = 4 << 20
    max_uncompressed_bytes: int = 64 << 30
    max_entries: int = 2_000_000  # the largest real images hold ~500k files
    max_input_bytes: int = 256 << 30  # how much of a stream is spooled to disk


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One runnable image in an archive."""

    names: tuple[str, ...]  # tags/references as the archive records them
    platform: Platform
    digest: str  # the manifest digest; the config digest (image ID) in a legacy docker-archive

    def __str__(self) -> str:
        name = self.names[0] if self.names else self.digest[:19]
        return f"{name} ({self.platform})"


@dataclass(frozen=True, slots=True)
class LayerInfo:
    digest: str | None  # the blob digest; None when a legacy archive does not record it
    diff_id: str  # sha256 of the uncompressed tar, from the config
    size: int  # blob size in bytes
    compression: Compression  # sniffed from the bytes, whatever media_type says
    media_type: str


class LoadedImage:
    """An image's config and layers; the merged ``rootfs`` is built on first access."""

    def __init__(
        self,
        ref: ImageRef,
        config: ImageConfig,
        layers: tuple[LayerInfo, ...],
        blobs: tuple[LayerBlob, ...],
        archive: ImageArchive,
    ) -> None:
        self.ref = ref
        self.config = config
        self.layers = layers
        self._blobs = blobs
        self._archive = archive
        self._rootfs: ImageRootFS | None = None

    def __repr__(self) -> str:
        return f"LoadedImage({self.ref})"

    @property
    def rootfs(self) -> ImageRootFS:
        """The merged tree: every layer read once, front to back, digests verified."""
        if self._rootfs is None:
            limits = self._archive.limits
            tree = ImageRootFS(self._materialize)
            budget = Budget(limits.max_uncompressed_bytes)
            for blob in self._blobs:
                apply_layer(blob, tree, self._archive.store, budget, max_entries=limits.max_entries)
            self._rootfs = tree
        return self._rootfs

    def _materialize(self, ref: Deferred) -> Stored:
        return read_deferred(self._blobs[ref.layer], ref, self._archive.store)


class ImageArchive:
    """An opened image source; use as a context manager (see :func:`open_image`)."""

    def __init__(self, source: str | os.PathLike[str] | BinaryIO, limits: Limits) -> None:
        self.limits = limits
        self._tmp = tempfile.TemporaryDirectory(prefix="linkcheck-")
        self._container: Container | None = None
        try:
            self._container = _open_container(source, self._tmp.name, limits)
            plans = discover(self._container, json_cap=limits.max_json_bytes)
            fd, _ = tempfile.mkstemp(prefix="content-", dir=self._tmp.name)
            self.store = ContentStore(fd)
        except BaseException:
            self.close()
            raise
        self._plans: dict[str, ImagePlan] = {}
        for plan in plans:  # the same manifest listed twice (two tags): one image, all names
            old = self._plans.get(plan.digest)
            if old is not None:
                names = old.names + tuple(n for n in plan.names if n not in old.names)
                plan = ImagePlan(names, old.platform, old.digest, old.config, old.layers)
            self._plans[plan.digest] = plan
        self.images = tuple(ImageRef(p.names, p.platform, p.digest) for p in self._plans.values())

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None
        if hasattr(self, "store"):
            os.close(self.store.fd)
            del self.store
        self._tmp.cleanup()

    @property
    def container(self) -> Container:
        if self._container is None:
            raise ImageFormatError("the image archive is closed")
        return self._container

    def select(
        self, platform: Platform | None = None, name: str | None = None
    ) -> tuple[ImageRef, ...]:
        """The images matching ``name`` and ``platform``; SelectionError lists the choices."""
        refs = self.images
        if not refs:
            raise SelectionError("the archive holds no runnable image")
        if name is not None:
            refs = tuple(r for r in refs if any(_same_name(name, n) for n in r.names))
            if not refs:
                raise SelectionError(f"no image named {name!r}; choices: {_choices(self.images)}")
        groups = {r.names for r in refs}
        if name is None and len(groups) > 1:
            raise SelectionError(
                f"the archive holds {len(groups)} images, choose one with a name: {_choices(refs)}"
            )
        if len(groups) > 1:
            raise SelectionError(f"{name!r} names {len(groups)} images: {_choices(refs)}")
        if platform is not None:
            found = tuple(r for r in refs if r.platform.matches(platform))
            if not found:
                available = ", ".join(sorted({str(r.platform) for r in refs}))
                raise SelectionError(f"no image for platform {platform}; available: {available}")
            refs = found
        return refs

    def load(self, ref: ImageRef) -> LoadedImage:
        """Read ``ref``'s config and locate its layers (the rootfs is built lazily)."""
        plan = self._plans.get(ref.digest)
        if plan is None:
            raise SelectionError(f"{ref.digest} is not an image of this archive")
        container = self.container
        doc = read_json(container, plan.config, self.limits.max_json_bytes)
        config, diff_ids = parse_config(doc, plan.config.name)
        if len(diff_ids) != len(plan.layers):
            raise ImageFormatError(
                f"{plan.config.name}: {len(diff_ids)} diff_ids for {len(plan.layers)} layers"
            )
        blobs, infos = [], []
        for index, (layer, diff_id) in enumerate(zip(plan.layers, diff_ids, strict=True)):
            member = container.member(layer.name)
            if member is None:
                raise ImageFormatError(f"layer {index}: blob {layer.name} is missing")
            if layer.size is not None and member.size != layer.size:
                raise IntegrityError(
                    f"layer {index}: blob {layer.digest} has {member.size} bytes,"
                    f" its descriptor says {layer.size}"
                )
            compression = sniff_compression(os.pread(member.fd, 4, member.offset))
            blobs.append(LayerBlob(index, member, layer.digest, diff_id, compression))
            digest = layer.digest or (diff_id if compression is Compression.NONE else None)
            media_type = layer.media_type or _LEGACY_LAYER_TYPES[compression]
            infos.append(LayerInfo(digest, diff_id, member.size, compression, media_type))
        return LoadedImage(ref, config, tuple(infos), tuple(blobs), self)


def open_image(
    source: str | os.PathLike[str] | BinaryIO, *, limits: Limits | None = None
) -> ImageArchive:
    """Open a docker-archive/oci-archive tarball, an OCI layout directory, or a stream.

    A stream (``sys.stdin.buffer``) need not be seekable: it is spooled to the archive's
    temporary directory, never held in memory. Raises :class:`~linkcheck.errors.LinkcheckError`
    subclasses only.
    """
    return ImageArchive(source, limits or Limits())


def _choices(refs: tuple[ImageRef, ...]) -> str:
    names = sorted({n for r in refs for n in r.names} | {r.digest for r in refs if not r.names})
    return ", ".join(names)


def _normalize(reference: str) -> str:
    """``app`` -> ``docker.io/library/app:latest`` (the docker CLI's defaults)."""
    name = reference
    if "@" not in name and ":" not in name.rsplit("/", 1)[-1]:
        name += ":latest"
    first, sep, _ = name.partition("/")
    if not sep or not ("." in first or ":" in first or first == "localhost"):
        name = "docker.io/" + name
    if name.startswith("docker.io/") and name.count("/") == 1:
        name = "docker.io/library/" + name.removeprefix("docker.io/")
    return name


def _same_name(asked: str, recorded: str) -> bool:
    return asked == recorded or _normalize(asked) == _normalize(recorded)


def _open_container(
    source: str | os.PathLike[str] | BinaryIO, tmp: str, limits: Limits
) -> Container:
    if not isinstance(source, (str, os.PathLike)):
        path = os.path.join(tmp, "input")
        _spool(source, path, limits.max_input_bytes)
        return _open_tarball(path, "<stdin>", tmp, limits)
    path = os.fspath(source)
    try:
        st = os.stat(path)
    except OSError as e:
        raise ImageFormatError(f"cannot read {path}: {e.strerror}") from e
    if stat.S_ISDIR(st.st_mode):
        if os.path.isfile(os.path.join(path, "manifest.json")):
            return DirContainer(path)  # an unpacked `docker save`
        for required in ("oci-layout", "index.json"):
            if not os.path.isfile(os.path.join(path, required)):
                raise ImageFormatError(
                    f"{path}: not an OCI layout directory (no {required})"
                    " nor an unpacked docker-archive (no manifest.json)"
                )
        return DirContainer(path)
    if not stat.S_ISREG(st.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(st.st_mode) else "not a regular file"
        raise ImageFormatError(
            f"{path}: {kind}; give an image tarball or directory, or - to read stdin"
        )
    return _open_tarball(path, path, tmp, limits)


def _open_tarball(path: str, label: str, tmp: str, limits: Limits) -> Container:
    """A tarball, inflated first into ``tmp`` when it is gzip/zstd (``docker save | gzip``)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        raise ImageFormatError(f"cannot read {label}: {e.strerror}") from e
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped after stat(): refuse, do not hang
            raise ImageFormatError(f"{label}: not a regular file")
        compression = sniff_compression(os.pread(fd, 4, 0))
        if compression is not Compression.NONE:
            inflated = os.path.join(tmp, "inflated.tar")
            _inflate(fd, compression, inflated, label, limits.max_uncompressed_bytes)
            os.close(fd)
            fd = os.open(inflated, os.O_RDONLY | os.O_CLOEXEC)
        return TarContainer(fd, label)
    except BaseException:
        os.close(fd)
        raise


def _spool(stream: BinaryIO, path: str, cap: int) -> None:
    """Copy the whole stream into ``path`` (the manifest may be its last member)."""
    total = 0
    try:
        read = getattr(stream, "read1", stream.read)
        with open(path, "xb") as out:
            # read1 hands over whatever the stream buffered; after that a pipe can be
            # spliced straight into the file, skipping two copies through Python
            while chunk := read(CHUNK):
                total += len(chunk)
                out.write(chunk)
                if total > cap:
                    raise ImageFormatError(f"<stdin>: more than {cap} bytes")
                if _is_pipe(stream):
                    out.flush()
                    total = _splice(stream.fileno(), out.fileno(), total, cap)
                    break
    except OSError as e:
        raise ImageFormatError(f"cannot read <stdin>: {e.strerror or e}") from e
    if total == 0:
        raise ImageFormatError("<stdin>: empty input")


def _is_pipe(stream: BinaryIO) -> bool:
    try:
        return stat.S_ISFIFO(os.fstat(stream.fileno()).st_mode) and hasattr(os, "splice")
    except (OSError, ValueError, io.UnsupportedOperation):
        return False  # not backed by a descriptor (BytesIO, a socket wrapper...)


def _splice(src: int, dst: int, total: int, cap: int) -> int:
    while moved := os.splice(src, dst, CHUNK):
        total += moved
        if total > cap:
            raise ImageFormatError(f"<stdin>: more than {cap} bytes")
    return total


def _inflate(fd: int, compression: Compression, dest: str, label: str, cap: int) -> None:
    size = os.fstat(fd).st_size
    try:
        read = decompressed_reader(fd, size, compression)
        total = 0
        with open(dest, "xb") as out:
            while chunk := read(CHUNK):
                total += len(chunk)
                if total > cap:
                    raise ImageFormatError(f"{label}: inflates to more than {cap} bytes")
                out.write(chunk)
    except STREAM_ERRORS as e:
        raise ImageFormatError(f"{label}: corrupt {compression.value} stream ({e})") from e
