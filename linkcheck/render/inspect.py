"""Render ``linkcheck inspect``: an archive's images, and each selected image's config.

No analysis here: the CLI hands over what :mod:`linkcheck.image` read.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

    from linkcheck.image import ImageRef, LayerInfo, LoadedImage

__all__ = ["INSPECT_JSON_VERSION", "inspect_json", "inspect_text"]

INSPECT_JSON_VERSION = 1


def _argv(image: LoadedImage) -> list[str]:
    """What a runtime would exec before PATH lookup: Entrypoint + Cmd."""
    return [*(image.config.entrypoint or ()), *(image.config.cmd or ())]


def _ref(ref: ImageRef) -> dict[str, object]:
    return {"names": list(ref.names), "platform": str(ref.platform), "digest": ref.digest}


def _layer(index: int, layer: LayerInfo) -> dict[str, object]:
    return {
        "index": index,
        "digest": layer.digest,
        "diff_id": layer.diff_id,
        "size": layer.size,
        "compression": layer.compression.value,
        "media_type": layer.media_type,
    }


def _image(image: LoadedImage) -> dict[str, object]:
    config = image.config
    return {
        **_ref(image.ref),
        "config": {
            "os": config.platform.os,
            "architecture": config.platform.architecture,
            "variant": config.platform.variant,
            "entrypoint": None if config.entrypoint is None else list(config.entrypoint),
            "cmd": None if config.cmd is None else list(config.cmd),
            "env": list(config.env),
            "working_dir": config.working_dir,
            "user": config.user,
            "labels": dict(config.labels),
        },
        "argv": _argv(image),
        "layers": [_layer(i, layer) for i, layer in enumerate(image.layers)],
    }


def inspect_json(refs: Sequence[ImageRef], images: Sequence[LoadedImage]) -> str:
    doc = {
        "version": INSPECT_JSON_VERSION,
        "images": [_ref(r) for r in refs],
        "selected": [_image(i) for i in images],
    }
    return json.dumps(doc, indent=2)


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024  # type: ignore[assignment]
    raise AssertionError


def _list(value: tuple[str, ...] | None) -> str:
    return "(unset)" if value is None else json.dumps(list(value))


def inspect_text(refs: Sequence[ImageRef], images: Sequence[LoadedImage]) -> str:
    lines = [f"Images in the archive ({len(refs)}):"]
    for ref in refs:
        names = ", ".join(ref.names) or "(no name)"
        lines.append(f"  {ref.platform!s:<16} {ref.digest[:19]}  {names}")
    for image in images:
        config = image.config
        lines += [
            "",
            f"Image {image.ref}",
            f"  Digest:      {image.ref.digest}",
            f"  Platform:    {config.platform}",
            f"  Entrypoint:  {_list(config.entrypoint)}",
            f"  Cmd:         {_list(config.cmd)}",
            f"  Argv:        {shlex.join(_argv(image)) or '(empty: nothing to run)'}",
            f"  WorkingDir:  {config.working_dir or '(unset: /)'}",
            f"  User:        {config.user or '(unset: root)'}",
            "  Env:",
            *(f"    {item}" for item in config.env),
            f"  Layers ({len(image.layers)}):",
        ]
        for i, layer in enumerate(image.layers):
            digest = layer.digest or layer.diff_id
            lines.append(
                f"    {i:>3}  {digest[:19]}  {layer.compression.value:<4}  {_size(layer.size)}"
            )
    return "\n".join(lines)
