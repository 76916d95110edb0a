"""Image reading: every container image format as one merged, root-confined filesystem.

>>> from linkcheck.image import open_image
>>> with open_image("app.tar") as archive:              # doctest: +SKIP
...     (ref,) = archive.select(name="app:latest")
...     image = archive.load(ref)
...     image.config.entrypoint, image.rootfs.resolve("/bin/sh")
"""

from __future__ import annotations

from linkcheck.image._io import Compression
from linkcheck.image.archive import (
    ImageArchive,
    ImageRef,
    LayerInfo,
    Limits,
    LoadedImage,
    open_image,
)
from linkcheck.image.dirfs import DirFileSystem
from linkcheck.image.rootfs import ImageRootFS

__all__ = [
    "Compression",
    "DirFileSystem",
    "ImageArchive",
    "ImageRef",
    "ImageRootFS",
    "LayerInfo",
    "Limits",
    "LoadedImage",
    "open_image",
]
