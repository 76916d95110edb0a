"""linkcheck's exceptions: one root, a few narrow subclasses.

An exception means "this input cannot be analysed" (the CLI prints one ``error:`` line and
exits 3). Problems *inside* an image that can be analysed (a malformed ELF, a symlink loop in
one path) are findings, not exceptions.
"""

from __future__ import annotations

__all__ = [
    "ElfError",
    "ImageFormatError",
    "IntegrityError",
    "LdCacheError",
    "LinkcheckError",
    "SelectionError",
    "UnsafeImageError",
    "DockerfileError",
]


class LinkcheckError(Exception):
    """Root of every error linkcheck raises on purpose."""


class ImageFormatError(LinkcheckError):
    """The input is not a readable image (unknown shape, malformed JSON, truncated tar...)."""


class IntegrityError(LinkcheckError):
    """A blob's digest or a layer's diff_id does not match what the image claims."""


class UnsafeImageError(LinkcheckError):
    """The image tries something hostile: path escapes, bombs, absurd sizes."""


class SelectionError(LinkcheckError):
    """No image, or more than one, matches the platform/name asked for."""


class ElfError(LinkcheckError):
    """Bytes that claim to be ELF but cannot be parsed (reported as a finding by callers)."""


class LdCacheError(LinkcheckError):
    """An ``/etc/ld.so.cache`` that cannot be parsed (callers report it as a finding)."""


class DockerfileError(LinkcheckError):
    """A Dockerfile that cannot be read or parsed."""
