"""linkcheck: will this container image's entrypoint actually start?

>>> import linkcheck
>>> report = linkcheck.analyze("app.tar")          # doctest: +SKIP
>>> report.verdict                                  # doctest: +SKIP
<Verdict.FAIL: 'fail'>
"""

from __future__ import annotations

from linkcheck.analysis import analyze, analyze_rootfs
from linkcheck.dockerfile import DockerfileFinding, check_dockerfile
from linkcheck.errors import (
    DockerfileError,
    ElfError,
    ImageFormatError,
    IntegrityError,
    LinkcheckError,
    SelectionError,
    UnsafeImageError,
)
from linkcheck.model import (
    BaseInfo,
    EntrypointInfo,
    ExecutedFile,
    Finding,
    ImageConfig,
    ImageInfo,
    Libc,
    LibraryNode,
    LibraryStatus,
    Platform,
    PlatformReport,
    Report,
    Severity,
    Verdict,
)

__version__ = "0.1.0"

__all__ = [
    "BaseInfo",
    "DockerfileError",
    "DockerfileFinding",
    "ElfError",
    "EntrypointInfo",
    "ExecutedFile",
    "Finding",
    "ImageConfig",
    "ImageFormatError",
    "ImageInfo",
    "IntegrityError",
    "LibraryNode",
    "LibraryStatus",
    "Libc",
    "LinkcheckError",
    "Platform",
    "PlatformReport",
    "Report",
    "SelectionError",
    "Severity",
    "UnsafeImageError",
    "Verdict",
    "__version__",
    "analyze",
    "analyze_rootfs",
    "check_dockerfile",
]
