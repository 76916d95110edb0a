"""Static Dockerfile checks: will what a builder stage produces run on the base it is copied to?

Public API::

    check_dockerfile(source, *, catalog=None) -> tuple[DockerfileFinding, ...]

``source`` is a path (``str`` without a newline, or ``os.PathLike``) or the Dockerfile text
(any ``str`` containing a newline). ``catalog`` is a JSON file with the shape of
``linkcheck/data/bases.json`` whose entries are searched before the built-in ones, or a
:class:`Catalog` used as is (``load_catalog(extra)`` makes one; reuse it across files).
Unreadable or unparsable input raises :class:`linkcheck.errors.DockerfileError`.

Every leaf stage (one no other stage builds on or copies from), and the last stage, is a
possible ``--target`` and is checked; a finding names it in ``stage``. The rules and the line
each finding points at are documented in :mod:`linkcheck.dockerfile.rules`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from linkcheck.dockerfile.builds import Artifact, Linkage
from linkcheck.dockerfile.catalog import BaseImage, Catalog, LibcFlavour, load_catalog
from linkcheck.dockerfile.parse import parse_dockerfile, read_source
from linkcheck.dockerfile.rules import RULE_IDS, DockerfileFinding, check_stage
from linkcheck.dockerfile.stages import Stage, build_stages

if TYPE_CHECKING:
    import os

__all__ = [
    "RULE_IDS",
    "Artifact",
    "BaseImage",
    "Catalog",
    "DockerfileFinding",
    "LibcFlavour",
    "Linkage",
    "check_dockerfile",
    "load_catalog",
    "targets",
]


def check_dockerfile(
    source: str | os.PathLike[str],
    *,
    catalog: Catalog | str | os.PathLike[str] | None = None,
) -> tuple[DockerfileFinding, ...]:
    """Check every possible target of a Dockerfile; findings sorted by line, then rule."""
    name, text = read_source(source)
    instructions = parse_dockerfile(text, name=name)
    bases = catalog if isinstance(catalog, Catalog) else load_catalog(catalog)
    stages = build_stages(instructions, bases)
    seen: set[tuple[str, int, str]] = set()
    findings: list[DockerfileFinding] = []
    for stage in targets(stages):
        for finding in check_stage(stage):
            key = (finding.rule, finding.line, finding.message)
            if key not in seen:
                seen.add(key)
                findings.append(finding)
    return tuple(sorted(findings, key=lambda f: (f.line, f.rule)))


def targets(stages: tuple[Stage, ...]) -> tuple[Stage, ...]:
    """The stages a ``--target`` could pick that end a chain: unreferenced ones and the last."""
    return tuple(s for s in stages if not s.referenced or s is stages[-1])
