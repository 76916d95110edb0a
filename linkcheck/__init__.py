"""linkcheck: will this container image's entrypoint actually start?"""

from __future__ import annotations

from linkcheck.errors import (
    DockerfileError,
    ElfError,
    ImageFormatError,
    IntegrityError,
    LinkcheckError,
    SelectionError,
    UnsafeImageError,
)
from linkcheck.model import Finding, ImageConfig, Libc, Platform, Severity

__version__ = "0.1.0"

__all__ = [
    "DockerfileError",
    "ElfError",
    "Finding",
    "ImageConfig",
    "ImageFormatError",
    "IntegrityError",
    "Libc",
    "LinkcheckError",
    "Platform",
    "SelectionError",
    "Severity",
    "UnsafeImageError",
    "__version__",
]
