"""Find the runnable images in a container: OCI index/layout, Docker 25+ hybrid, legacy.

OCI image-spec ``image-layout.md`` (``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``),
``image-index.md`` (nested indexes), ``manifest.md`` and ``config.md``; Docker's
``docker save`` format (``manifest.json`` with ``Config``/``RepoTags``/``Layers``), which
Docker 25+ writes next to an OCI layout in one tarball. Every JSON document is capped, parsed
strictly and, when a descriptor names it, checked against its digest.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from linkcheck.errors import ImageFormatError, IntegrityError, UnsafeImageError
from linkcheck.image._io import load_json
from linkcheck.model import ImageConfig, Platform

if TYPE_CHECKING:
    from linkcheck.image._container import Container, Member

__all__ = ["BlobRef", "ImagePlan", "discover", "parse_config", "read_json"]

log = logging.getLogger(__name__)

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
IMAGE_CONFIGS = frozenset(
    {"application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"}
)
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
# BuildKit marks provenance/SBOM manifests so: they are not runnable images.
REFERENCE_TYPE = "vnd.docker.reference.type"
_DIGEST = re.compile(r"^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$")
_MAX_DEPTH = 8


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A blob: its name in the container, and what the image claims about it."""

    name: str
    digest: str | None
    size: int | None
    media_type: str


@dataclass(frozen=True, slots=True)
class ImagePlan:
    """What :meth:`ImageArchive.load` needs: a runnable image, found but not read yet."""

    names: tuple[str, ...]
    platform: Platform
    digest: str  # manifest digest (OCI), or config digest = image ID (legacy docker-archive)
    config: BlobRef
    layers: tuple[BlobRef, ...]


def blob_name(digest: str, where: str) -> str:
    if not _DIGEST.match(digest):
        raise ImageFormatError(f"{where}: invalid digest {digest!r}")
    algorithm, _, hexdigest = digest.partition(":")
    return f"blobs/{algorithm}/{hexdigest}"


def read_blob(container: Container, ref: BlobRef, cap: int) -> bytes:
    """A small blob, size-capped and digest-checked."""
    member = container.member(ref.name)
    if member is None:
        raise ImageFormatError(f"{container.label}: missing {ref.name}")
    if member.size > cap:
        raise UnsafeImageError(f"{ref.name}: {member.size} bytes, over the {cap}-byte JSON limit")
    data = _pread_all(member)
    if ref.size is not None and len(data) != ref.size:
        raise IntegrityError(f"blob {ref.digest}: {len(data)} bytes, descriptor says {ref.size}")
    if ref.digest is not None:
        algorithm, _, expected = ref.digest.partition(":")
        actual = hashlib.new(algorithm, data).hexdigest()
        if actual != expected:
            raise IntegrityError(f"blob {ref.digest} has digest {algorithm}:{actual}")
    return data


def _pread_all(member: Member) -> bytes:
    parts = []
    offset, left = member.offset, member.size
    while left > 0:
        chunk = os.pread(member.fd, min(left, 1 << 20), offset)
        if not chunk:
            raise ImageFormatError("truncated blob")
        parts.append(chunk)
        offset += len(chunk)
        left -= len(chunk)
    return b"".join(parts)


def read_json(container: Container, ref: BlobRef, cap: int) -> dict[str, object]:
    return load_json(read_blob(container, ref, cap), ref.name)


def _str(doc: dict[str, object], key: str, where: str, default: str | None = None) -> str:
    value = doc.get(key, default)
    if not isinstance(value, str):
        raise ImageFormatError(f"{where}: '{key}' must be a string")
    return value


def _obj(doc: dict[str, object], key: str, where: str) -> dict[str, object]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImageFormatError(f"{where}: '{key}' must be an object")
    return value


def _list(doc: dict[str, object], key: str, where: str) -> list[object]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ImageFormatError(f"{where}: '{key}' must be a list")
    return value


def _strings(value: object, key: str, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageFormatError(f"{where}: '{key}' must be a list of strings")
    return tuple(value)


def parse_config(doc: dict[str, object], where: str) -> tuple[ImageConfig, tuple[str, ...]]:
    """The runtime-relevant config fields and the layers' ``diff_ids`` (config.md)."""
    inner = _obj(doc, "config", where)
    labels = _obj(inner, "Labels", where)
    platform = Platform(
        _str(doc, "os", where, "unknown") or "unknown",
        _str(doc, "architecture", where, "unknown") or "unknown",
        _str(doc, "variant", where, "") or None,
    )
    config = ImageConfig(
        platform=platform,
        entrypoint=_strings(inner.get("Entrypoint"), "Entrypoint", where),
        cmd=_strings(inner.get("Cmd"), "Cmd", where),
        env=_strings(inner.get("Env"), "Env", where) or (),
        working_dir=_str(inner, "WorkingDir", where, ""),
        user=_str(inner, "User", where, ""),
        labels=tuple(sorted((str(k), str(v)) for k, v in labels.items())),
    )
    rootfs = _obj(doc, "rootfs", where)
    diff_ids = _strings(rootfs.get("diff_ids"), "rootfs.diff_ids", where) or ()
    for diff_id in diff_ids:
        blob_name(diff_id, f"{where}: diff_id")
    return config, diff_ids


def _descriptor(value: object, where: str) -> BlobRef:
    if not isinstance(value, dict):
        raise ImageFormatError(f"{where}: descriptor must be an object")
    digest = _str(value, "digest", where)
    size = value.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise ImageFormatError(f"{where}: descriptor size must be a non-negative integer")
    media_type = _str(value, "mediaType", where, "")
    return BlobRef(blob_name(digest, where), digest, size, media_type)


def _platform(value: object, where: str) -> Platform | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ImageFormatError(f"{where}: 'platform' must be an object")
    return Platform(
        _str(value, "os", where, "unknown"),
        _str(value, "architecture", where, "unknown"),
        _str(value, "variant", where, "") or None,
    )


@dataclass(frozen=True, slots=True)
class _Ctx:
    container: Container
    cap: int
    extra_names: dict[str, tuple[str, ...]]  # config digest -> RepoTags (Docker hybrid)


def discover(container: Container, *, json_cap: int) -> list[ImagePlan]:
    """Every runnable image in ``container``, in document order."""
    if container.has("index.json"):
        if container.has("oci-layout"):
            _check_layout(container, json_cap)
        extra = _docker_names(container, json_cap) if container.has("manifest.json") else {}
        ctx = _Ctx(container, json_cap, extra)
        index = read_json(container, BlobRef("index.json", None, None, OCI_INDEX), json_cap)
        plans: list[ImagePlan] = []
        _walk_index(ctx, index, "index.json", (), 0, plans)
        return plans
    if container.has("manifest.json"):
        return _docker_legacy(container, json_cap)
    raise ImageFormatError(
        f"{container.label}: not an image (no index.json/oci-layout of an OCI layout,"
        " no manifest.json of a docker-archive)"
    )


def _check_layout(container: Container, cap: int) -> None:
    doc = read_json(container, BlobRef("oci-layout", None, None, ""), cap)
    version = doc.get("imageLayoutVersion")
    if not isinstance(version, str) or not version.startswith("1."):
        raise ImageFormatError(f"oci-layout: unsupported imageLayoutVersion {version!r}")


def _walk_index(
    ctx: _Ctx,
    index: dict[str, object],
    where: str,
    names: tuple[str, ...],
    depth: int,
    out: list[ImagePlan],
) -> None:
    if depth > _MAX_DEPTH:
        raise ImageFormatError(f"{where}: image indexes nested more than {_MAX_DEPTH} deep")
    for i, value in enumerate(_list(index, "manifests", where)):
        here = f"{where} manifests[{i}]"
        desc = _descriptor(value, here)
        assert isinstance(value, dict)
        annotations = _obj(value, "annotations", here)
        platform = _platform(value.get("platform"), here)
        unknown = platform is not None and (platform.os, platform.architecture) == (
            "unknown",
            "unknown",
        )
        if annotations.get(REFERENCE_TYPE) or unknown:
            log.debug("%s: skipping %s (not a runnable image)", here, desc.digest)
            continue
        # Docker 25+ puts the full name in io.containerd.image.name and only the tag in
        # ref.name; skopeo/umoci put a tag or full reference in ref.name alone.
        key = CONTAINERD_NAME if CONTAINERD_NAME in annotations else REF_NAME
        own = (str(annotations[key]),) if key in annotations else ()
        all_names = names + tuple(n for n in own if n not in names)
        if not ctx.container.has(desc.name):
            # `docker save` from the containerd store keeps the whole index but only the
            # platforms that were pulled: the others are listed, not carried.
            log.info("%s: %s (%s) is not in the archive", here, desc.digest, platform)
            continue
        if desc.media_type in (OCI_INDEX, DOCKER_LIST):
            child = read_json(ctx.container, desc, ctx.cap)
            _walk_index(ctx, child, desc.name, all_names, depth + 1, out)
        elif desc.media_type in (OCI_MANIFEST, DOCKER_MANIFEST, ""):
            plan = _manifest(ctx, desc, all_names, platform)
            if plan is not None:
                out.append(plan)
        else:
            log.debug("%s: skipping media type %s", here, desc.media_type)


def _manifest(
    ctx: _Ctx, desc: BlobRef, names: tuple[str, ...], platform: Platform | None
) -> ImagePlan | None:
    doc = read_json(ctx.container, desc, ctx.cap)
    where = desc.name
    media_type = _str(doc, "mediaType", where, desc.media_type)
    if media_type in (OCI_INDEX, DOCKER_LIST):  # an index listed without its media type
        plans: list[ImagePlan] = []
        _walk_index(ctx, doc, where, names, 1, plans)
        return plans[0] if len(plans) == 1 else None
    config = _descriptor(doc.get("config"), f"{where} config")
    if config.media_type not in IMAGE_CONFIGS:
        log.debug("%s: config type %s is not an image", where, config.media_type)
        return None
    layers = tuple(
        _descriptor(v, f"{where} layers[{i}]") for i, v in enumerate(_list(doc, "layers", where))
    )
    assert config.digest is not None
    names = names + tuple(n for n in ctx.extra_names.get(config.digest, ()) if n not in names)
    if platform is None:
        image_config, _ = parse_config(read_json(ctx.container, config, ctx.cap), config.name)
        platform = image_config.platform
    assert desc.digest is not None
    return ImagePlan(names, platform, desc.digest, config, layers)


def _docker_entries(container: Container, cap: int) -> list[dict[str, object]]:
    doc = read_blob(container, BlobRef("manifest.json", None, None, ""), cap)
    try:
        entries = json.loads(doc)
    except (ValueError, RecursionError) as e:
        raise ImageFormatError(f"manifest.json: malformed JSON ({e})") from e
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ImageFormatError("manifest.json: expected a list of objects")
    return entries


def _docker_names(container: Container, cap: int) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for i, entry in enumerate(_docker_entries(container, cap)):
        where = f"manifest.json[{i}]"
        config = _str(entry, "Config", where)
        tags = _strings(entry.get("RepoTags"), "RepoTags", where) or ()
        if config.startswith("blobs/sha256/"):
            out["sha256:" + config.rsplit("/", 1)[1]] = tags
    return out


def _digest_from_name(name: str) -> str | None:
    """``<hex>.json`` (legacy config) or ``blobs/sha256/<hex>``: the name is the digest."""
    stem = name.rsplit("/", 1)[-1].removesuffix(".json")
    if re.fullmatch(r"[0-9a-f]{64}", stem) and (name.endswith(".json") or "/sha256/" in name):
        return "sha256:" + stem
    return None


def _docker_legacy(container: Container, cap: int) -> list[ImagePlan]:
    plans = []
    for i, entry in enumerate(_docker_entries(container, cap)):
        where = f"manifest.json[{i}]"
        config_name = _str(entry, "Config", where)
        config = BlobRef(config_name, _digest_from_name(config_name), None, "")
        layers = tuple(
            BlobRef(name, _digest_from_name(name) if "/sha256/" in name else None, None, "")
            for name in _strings(entry.get("Layers"), "Layers", where) or ()
        )
        image_config, _ = parse_config(read_json(container, config, cap), config_name)
        digest = config.digest or "sha256:" + hashlib.sha256(config_name.encode()).hexdigest()
        tags = _strings(entry.get("RepoTags"), "RepoTags", where) or ()
        plans.append(ImagePlan(tags, image_config.platform, digest, config, layers))
    return plans
